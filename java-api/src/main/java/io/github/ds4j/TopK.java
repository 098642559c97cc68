package io.github.ds4j;

/** The result of {@link Compute#topK}: values F32 [rows..., k] descending and their indices I32. */
public record TopK(Tensor values, Tensor indices) implements AutoCloseable {
    @Override
    public void close() {
        values.close();
        indices.close();
    }
}
