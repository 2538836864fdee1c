/**
 * Cross-signing endpoints (cross_signing.yaml): POST /keys/device_signing/upload (UIA unless the
 * user has no master key yet or the request repeats the stored keys) and POST
 * /keys/signatures/upload.
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { STAGE_PASSWORD } from '../../services/uia.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { v3 } from './account-params.ts';

const FLOWS = [{ stages: [STAGE_PASSWORD] }];

export function crossSigningRoutes(router: Router, s: Services): void {
  router.post(v3('/keys/device_signing/upload'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    const body = await readJson(ctx);
    const upload = s.e2ee.crossSigning.parseUpload(auth.userId, body);
    if (await s.e2ee.crossSigning.needsUia(auth.userId, upload)) {
      const session = await s.uia.check(body.auth, { flows: FLOWS, action: 'keys/device_signing/upload', userId: auth.userId });
      await s.e2ee.crossSigning.upload(auth.userId, upload);
      s.uia.finish(session);
    } else {
      await s.e2ee.crossSigning.upload(auth.userId, upload);
    }
    ctx.body = {};
  });

  router.post(v3('/keys/signatures/upload'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    const body = await readJson(ctx);
    const failures = await s.e2ee.crossSigning.uploadSignatures(auth.userId, body);
    ctx.body = { failures };
  });
}
