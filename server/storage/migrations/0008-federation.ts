/** 0008: federation: server keys, destinations, queues. Reserved for that area; filled in by its owner. */
export default /* sql */ `
`;
