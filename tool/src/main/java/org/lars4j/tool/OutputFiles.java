package org.lars4j.tool;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.lars4j.io.SafetensorsWriter;
import org.lars4j.io.SafetensorsWriter.Pending;

/**
 * The tool's output files. {@code step} writes two files that only make sense together (the
 * parameters after step t and the state after step t), so they are committed as a unit:
 * <ol>
 * <li>both complete files are written to temps and fsync'd ({@link SafetensorsWriter#prepare});</li>
 * <li>a journal naming both renames is written atomically next to the parameters file;</li>
 * <li>the state temp, then the parameters temp, are renamed over their targets;</li>
 * <li>the journal is deleted.</li>
 * </ol>
 * A process killed before step 2 leaves the old pair (and temps, which the next write removes);
 * one killed after it leaves a journal, and the next run that reads or writes that parameters
 * file finishes the renames first ({@link #recover}), giving the new pair. Either way no mixed
 * pair is ever read: the pair id in both files' metadata catches any other mix-up on load.
 */
public final class OutputFiles {
    private OutputFiles() {}

    private static final String JOURNAL_SUFFIX = ".lars4j-pair";

    /** The file a path names, for comparing two paths: links resolved, missing names resolved from their directory. */
    static Path identity(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        try {
            if (Files.exists(abs)) return abs.toRealPath();
            Path parent = abs.getParent();
            if (parent != null && Files.isDirectory(parent)) return parent.toRealPath().resolve(abs.getFileName());
        } catch (IOException ignored) {
            // unresolvable: compare as written
        }
        return abs;
    }

    /** The journal of a pair whose parameters file is {@code paramsTarget}. */
    static Path journalOf(Path paramsTarget) {
        Path id = identity(paramsTarget);
        return id.resolveSibling("." + id.getFileName() + JOURNAL_SUFFIX);
    }

    /** Commits {@code state} and {@code params} as a unit (see the class comment). */
    static void commitPair(Pending params, Pending state) throws IOException {
        Path journal = journalOf(params.resolvedTarget());
        String text = state.temp() + "\t" + state.resolvedTarget() + "\n" + params.temp() + "\t" + params.resolvedTarget() + "\n";
        synchronized (SafetensorsWriter.COMMIT_LOCK) {
            // From here on the temps belong to the journal: a normal exit must not delete one of
            // them while the other is renamed. Under the lock, so that the exit hook runs either
            // before (deleting both temps) or after the commit, never in between.
            params.keepOnExit();
            state.keepOnExit();
            Path tmp = journal.resolveSibling("." + params.resolvedTarget().getFileName() + ".lars4j-"
                    + ProcessHandle.current().pid() + "-journal.tmp");
            try {
                Files.write(tmp, text.getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                        StandardOpenOption.WRITE, StandardOpenOption.SYNC);
                Files.move(tmp, journal, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                SafetensorsWriter.syncDirectory(journal.getParent());
            } catch (IOException e) {
                Files.deleteIfExists(tmp);
                Files.deleteIfExists(params.temp());
                Files.deleteIfExists(state.temp());
                throw new IOException("cannot write " + params.target() + ": " + SafetensorsWriter.reason(e), e);
            }
            try {
                state.commit();
            } catch (IOException e) {
                // Nothing renamed yet: the old pair stands; the journal must not finish this later.
                Files.deleteIfExists(journal);
                Files.deleteIfExists(params.temp());
                Files.deleteIfExists(state.temp());
                throw e;
            }
            try {
                params.commit();
            } catch (IOException e) {
                throw new IOException(e.getMessage() + "; the state is already replaced: the next step reading or writing "
                        + params.target() + " completes the pair from its journal", e);
            }
            Files.deleteIfExists(journal);
            SafetensorsWriter.syncDirectory(journal.getParent());
        }
    }

    /**
     * Finishes a pair commit that a killed process left half done at the parameters file
     * {@code paramsTarget}: renames each temp the journal names that still exists, then deletes
     * the journal. Returns whether there was one. Idempotent: a crash here is finished next time.
     */
    static boolean recover(Path paramsTarget) throws IOException {
        Path journal = journalOf(paramsTarget);
        if (!Files.isRegularFile(journal)) return false;
        synchronized (SafetensorsWriter.COMMIT_LOCK) {
            List<String> lines = Files.readAllLines(journal, StandardCharsets.UTF_8);
            for (String line : lines) {
                String[] parts = line.split("\t");
                if (parts.length != 2) continue;
                Path temp = Path.of(parts[0]);
                Path target = Path.of(parts[1]);
                // Only a temp of that very target, in its directory, is ever renamed: a journal
                // planted or garbled by someone else cannot move other files around.
                boolean ours = temp.getParent() != null && temp.getParent().equals(target.getParent())
                        && temp.getFileName().toString().startsWith("." + target.getFileName() + ".lars4j-")
                        && SafetensorsWriter.isTemp(temp);
                if (ours && Files.isRegularFile(temp, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    SafetensorsWriter.syncDirectory(target.getParent());
                }
            }
            Files.deleteIfExists(journal);
            SafetensorsWriter.syncDirectory(journal.getParent());
        }
        return true;
    }

    /** Writes a text file atomically (temp, fsync, rename), with the same target checks as the safetensors outputs. */
    public static void writeString(Path target, String text) throws IOException {
        writeBytes(target, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Writes a file atomically (temp, fsync, rename), with the same target checks as the safetensors outputs. */
    public static void writeBytes(Path target, byte[] bytes) throws IOException {
        Path real = SafetensorsWriter.checkTarget(target);
        SafetensorsWriter.removeStaleTemps(real);
        Path tmp = real.resolveSibling("." + real.getFileName() + ".lars4j-" + ProcessHandle.current().pid() + "-text.tmp");
        try {
            Files.write(tmp, bytes, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE, StandardOpenOption.SYNC);
            if (Files.exists(real)) {
                try {
                    Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(real));
                } catch (UnsupportedOperationException ignored) {
                    // not POSIX: defaults apply
                }
            }
            Files.move(tmp, real, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw new IOException("cannot write " + target + ": " + SafetensorsWriter.reason(e), e);
        }
    }
}
