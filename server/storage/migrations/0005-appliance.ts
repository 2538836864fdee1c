/** 0005: wizard/appliance: setup state, certificates. Reserved for that area; filled in by its owner. */
export default /* sql */ `
`;
