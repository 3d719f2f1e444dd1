/** Types for murmurhash3js-revisited, which ships none. Only the x86 32-bit hash is used here. */
declare module 'murmurhash3js-revisited' {
  interface X86 {
    /** MurmurHash3 x86 32-bit of a byte array, as an unsigned 32-bit integer. */
    hash32(bytes: Uint8Array | number[], seed?: number): number;
  }
  const murmur: { x86: X86; inputValidation: boolean };
  export default murmur;
}
