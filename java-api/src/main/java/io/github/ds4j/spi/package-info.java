/**
 * The service-provider interface backends implement: {@link io.github.ds4j.spi.BackendProvider}
 * (discovered with {@link java.util.ServiceLoader}) opens a {@link io.github.ds4j.spi.Backend}.
 */
package io.github.ds4j.spi;
