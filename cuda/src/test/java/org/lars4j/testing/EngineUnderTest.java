package org.lars4j.testing;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Optional;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.InvocationInterceptor;
import org.junit.jupiter.api.extension.ReflectiveInvocationContext;

/**
 * For a parameterised test whose arguments include a {@link TargetEngine}: enters the engine
 * before the body ({@link TargetEngine#enter()}: a skip with the reason where CUDA cannot run,
 * the variant's properties set), stores it in the test instance's {@code TargetEngine} field if
 * the class declares one (so helpers and inner classes can reach it), and restores the
 * properties afterwards, whatever the outcome.
 */
public final class EngineUnderTest implements InvocationInterceptor {

    @Override
    public void interceptTestTemplateMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
                                            ExtensionContext context) throws Throwable {
        TargetEngine engine = null;
        for (Object a : call.getArguments()) if (a instanceof TargetEngine) engine = (TargetEngine) a;
        if (engine == null) {
            invocation.proceed();
            return;
        }
        try {
            Optional<Object> instance = call.getTarget();
            if (instance.isPresent()) inject(instance.get(), engine);   // first: @AfterEach methods may read it
            try {
                engine.enter();
            } catch (Throwable skippedOrFailed) {
                invocation.skip();
                throw skippedOrFailed;
            }
            invocation.proceed();
        } finally {
            TargetEngine.leave();
        }
    }

    private static void inject(Object test, TargetEngine engine) throws IllegalAccessException {
        for (Class<?> c = test.getClass(); c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (f.getType() == TargetEngine.class && !java.lang.reflect.Modifier.isStatic(f.getModifiers())) {
                    f.setAccessible(true);
                    f.set(test, engine);
                }
            }
        }
    }
}
