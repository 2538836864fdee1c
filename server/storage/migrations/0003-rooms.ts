/** 0003: CS-rooms: events, state, rooms, sync streams. Reserved for that area; filled in by its owner. */
export default /* sql */ `
`;
