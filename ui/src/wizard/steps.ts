// The wizard's steps as a data table: the order, the title in the progress list, the component.
// The backups area fills in Backups and Restore (see their files).
import type { Component } from 'svelte';
import type { StepId } from '../lib/types';
import Welcome from './steps/Welcome.svelte';
import Admin from './steps/Admin.svelte';
import Names from './steps/Names.svelte';
import Certificate from './steps/Certificate.svelte';
import Delegation from './steps/Delegation.svelte';
import SelfTest from './steps/SelfTest.svelte';
import Backups from './steps/Backups.svelte';
import Done from './steps/Done.svelte';
import Restore from './steps/Restore.svelte';

export interface StepDef {
  id: StepId;
  title: string;
  // Every step component takes the wizard as its only prop.
  component: Component<{ wiz: import('./wizard.svelte').Wizard }>;
  /** Whether Next is allowed before the step reports itself done. */
  optional?: boolean;
}

export const STEPS: StepDef[] = [
  { id: 'welcome', title: 'Welcome', component: Welcome },
  { id: 'admin', title: 'Admin account', component: Admin },
  { id: 'names', title: 'Server name', component: Names },
  { id: 'certificate', title: 'Certificate', component: Certificate },
  { id: 'delegation', title: 'Delegation', component: Delegation, optional: true },
  { id: 'selftest', title: 'Federation test', component: SelfTest, optional: true },
  { id: 'backups', title: 'Backups', component: Backups, optional: true },
  { id: 'done', title: 'Done', component: Done },
];

export const RESTORE_STEP: StepDef = { id: 'restore', title: 'Restore from a backup', component: Restore };

export const STEP_ORDER = STEPS.map((s) => s.id) as Exclude<StepId, 'restore'>[];

export function stepDef(id: string): StepDef | undefined {
  return id === 'restore' ? RESTORE_STEP : STEPS.find((s) => s.id === id);
}
