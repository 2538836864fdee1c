/**
 * The E2EE parts of a sync token (services/sync/token.ts): `d` is the to-device inbox position,
 * `l` the device list stream position.
 */
export const TO_DEVICE_KEY = 'd';
export const DEVICE_LISTS_KEY = 'l';
