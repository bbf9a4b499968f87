package org.lars4j.engine.cuda;

/** Loads the JNI library once and remembers why it could not, for the engines' reasons. */
final class NativeEngines {
    private static final String LOAD_FAILURE = load();

    private NativeEngines() {}

    private static String load() {
        try {
            NativeLars.cudaAvailability(); // triggers Loader.load()
            return null;
        } catch (Throwable t) {
            return "the native library libjnilars4j could not be loaded (" + t + ")";
        }
    }

    /** Null if the JNI library is loaded, else why not. */
    static String loadFailure() { return LOAD_FAILURE; }
}
