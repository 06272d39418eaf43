/** Types of `cluster-key-slot` (the package ships none): the hash slot of a key, 0 to 16383. */
declare module 'cluster-key-slot' {
  function calculateSlot(key: string | Buffer): number;
  export default calculateSlot;
}
