/** 0002: CS-accounts: devices, access tokens, account data, profile, push rules, registration tokens. Reserved for that area; filled in by its owner. */
export default /* sql */ `
`;
