import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readThermalZones } from '../../server/appliance/system-info.ts';
import { tempDir } from '../helpers/server.ts';

test('temperature comes from the hottest thermal zone; none on machines without sensors', async () => {
  const root = tempDir();
  for (const [zone, milli] of [['thermal_zone0', '48000'], ['thermal_zone1', '61500'], ['thermal_zone2', 'garbage']] as const) {
    mkdirSync(join(root, zone));
    writeFileSync(join(root, zone, 'temp'), `${milli}\n`);
  }
  assert.equal(await readThermalZones(root), 61.5);
  assert.equal(await readThermalZones(join(root, 'missing')), null);
});
