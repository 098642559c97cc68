package io.github.ds4j.v4;

import java.util.ArrayList;
import java.util.List;

/** The temporaries of one forward call, closed together (last first) when the call ends. */
final class AttentionScratch implements AutoCloseable {
    private final List<AutoCloseable> items = new ArrayList<>();

    /** Keeps {@code item} until {@link #close()}; returns it. */
    <T extends AutoCloseable> T keep(T item) {
        items.add(item);
        return item;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (int i = items.size() - 1; i >= 0; i--) {
            try {
                items.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException r ? r : new IllegalStateException(e);
                }
            }
        }
        items.clear();
        if (first != null) {
            throw first;
        }
    }
}
