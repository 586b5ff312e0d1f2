/** cluster-key-slot (ioredis's own dependency) ships no types: the slot of a key (CRC16 of its hash tag or whole name, mod 16384). */
declare module 'cluster-key-slot' {
  function calculateSlot(key: string | Buffer): number;
  export default calculateSlot;
}
