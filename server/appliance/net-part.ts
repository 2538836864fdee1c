/**
 * What `Appliance.loadNet()` imports, in one module: one dynamic import, so one entry point for
 * esbuild's chunk splitting instead of five (fewer, larger chunks at start: see full-part.ts).
 */
export { CertManager } from './acme/cert-manager.ts';
export { createResolver } from './net/resolver.ts';
export { caBundle } from './net/http-client.ts';
export { createDiscovery } from './net/discovery-deps.ts';
export { ProbeNonces } from './checks/dns-check.ts';
