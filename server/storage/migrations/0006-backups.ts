/** 0006: backups. Reserved for that area; filled in by its owner. */
export default /* sql */ `
`;
