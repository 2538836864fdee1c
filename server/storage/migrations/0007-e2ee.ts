/** 0007: end-to-end encryption keys, to-device. Reserved for that area; filled in by its owner. */
export default /* sql */ `
`;
