/** 0004: media repository. Reserved for that area; filled in by its owner. */
export default /* sql */ `
`;
