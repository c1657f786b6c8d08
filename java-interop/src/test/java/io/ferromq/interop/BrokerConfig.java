package io.ferromq.interop;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Extra broker.conf lines ({@code key=value}) for the {@link FerroMQ} server that
 * {@link FerroMQExtension} starts for the annotated test method (or every method of the class).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface BrokerConfig {
    String[] value();
}
