package org.lars4j.io;

/** Element types of the safetensors format, with their names and sizes in bytes. */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U64(8), U32(4), U16(2), U8(1), BOOL(1);

    private final int size;

    DType(int size) { this.size = size; }

    /** Bytes per element. */
    public int size() { return size; }

    /** The dtype named {@code s} in a safetensors header, or null. */
    static DType parse(String s) {
        for (DType d : values()) {
            if (d.name().equals(s)) return d;
        }
        return null;
    }

    /** True for the floating-point types the optimizer can read (F64, F32, F16, BF16). */
    public boolean isFloat() { return this == F64 || this == F32 || this == F16 || this == BF16; }
}
