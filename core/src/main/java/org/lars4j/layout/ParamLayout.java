package org.lars4j.layout;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.lars4j.error.InvalidLayoutException;

/**
 * The model described once: an ordered list of named segments, their offsets in the flat form
 * (one buffer holding every segment back to back, as DL4J stores a network), and their
 * {@code decay}/{@code adapt} flags.
 *
 * <p>Flags are set explicitly per segment or by rules, SimCLR style:
 * <pre>{@code
 * ParamLayout layout = ParamLayout.builder()
 *     .add("conv1.weight", 64, 3, 7, 7)
 *     .add("bn1.weight", 64)
 *     .add("bn1.bias", 64)
 *     .add("fc.weight", new int[] {1000, 2048}, true, true)   // explicit: rules never touch it
 *     .excludeFromWeightDecay("bn|bias")                      // regex, find() semantics
 *     .excludeFromAdaptation("bn|bias")
 *     .build();
 * // offsets: conv1.weight 0, bn1.weight 9408, bn1.bias 9472, fc.weight 9536; total 2057536
 * }</pre>
 * A segment whose flags were given explicitly keeps them; every other segment starts with
 * decay and adapt on, and each matching rule turns its flag off. Immutable.
 */
public final class ParamLayout {
    /** Largest element count of one segment (and of a flat Java array). */
    public static final int MAX_SEGMENT_LENGTH = Integer.MAX_VALUE - 8;

    private final List<Segment> segments;
    private final long[] offsets;
    private final long total;
    private final Map<String, Integer> index;
    private final boolean adaptationRulesGiven;

    private ParamLayout(List<Segment> segments, boolean adaptationRulesGiven) {
        this.adaptationRulesGiven = adaptationRulesGiven;
        this.segments = Collections.unmodifiableList(new ArrayList<>(segments));
        this.offsets = new long[segments.size()];
        this.index = new HashMap<>();
        long at = 0;
        for (int i = 0; i < segments.size(); i++) {
            offsets[i] = at;
            at += segments.get(i).length();
            index.put(segments.get(i).name(), i);
        }
        this.total = at;
    }

    public static Builder builder() { return new Builder(); }

    /** Number of segments. */
    public int size() { return segments.size(); }

    public Segment segment(int i) { return segments.get(i); }

    public List<Segment> segments() { return segments; }

    /** Offset of segment {@code i} in the flat form. */
    public long offset(int i) { return offsets[i]; }

    /** Total number of parameters. */
    public long totalElements() { return total; }

    /** Index of the named segment, or -1. */
    public int indexOf(String name) {
        Integer i = index.get(name);
        return i == null ? -1 : i;
    }

    /** This layout with every segment's flags replaced (same names, shapes and order). */
    public ParamLayout withFlags(boolean[] decay, boolean[] adapt) {
        if (decay.length != size() || adapt.length != size()) {
            throw new InvalidLayoutException("flag arrays have " + decay.length + "/" + adapt.length
                    + " entries but the layout has " + size() + " segments");
        }
        List<Segment> out = new ArrayList<>(size());
        for (int i = 0; i < size(); i++) out.add(segments.get(i).withFlags(decay[i], adapt[i]));
        return new ParamLayout(out, adaptationRulesGiven);
    }

    /**
     * Whether the adapt flags were set on purpose (an excludeFromAdaptation rule, or explicit
     * flags), rather than left at their default. TF-Addons' LAMB uses the decay exclusions as
     * adaptation exclusions when none were given.
     */
    public boolean adaptationRulesGiven() { return adaptationRulesGiven; }

    @Override
    public String toString() {
        return "ParamLayout[" + size() + " segments, " + total + " parameters]";
    }

    /** Collects segments and rules; {@link #build()} validates everything at once. */
    public static final class Builder {
        private static final class Entry {
            final String name; final int[] shape; final Boolean decay; final Boolean adapt;
            Entry(String name, int[] shape, Boolean decay, Boolean adapt) {
                this.name = name; this.shape = shape; this.decay = decay; this.adapt = adapt;
            }
        }

        private final List<Entry> entries = new ArrayList<>();
        private final List<Pattern> noDecay = new ArrayList<>();
        private final List<Pattern> noAdapt = new ArrayList<>();
        private final Map<String, Integer> outputAxes = new LinkedHashMap<>();
        private boolean excludeOneDimensional;

        private Builder() {}

        /** A segment whose flags come from the rules. An empty shape is a scalar. */
        public Builder add(String name, int... shape) {
            entries.add(new Entry(name, shape == null ? null : shape.clone(), null, null));
            return this;
        }

        /** A segment with explicit flags; rules do not change them. */
        public Builder add(String name, int[] shape, boolean decay, boolean adapt) {
            entries.add(new Entry(name, shape == null ? null : shape.clone(), decay, adapt));
            return this;
        }

        /** Segments whose name matches (find() semantics) get decay=false. */
        public Builder excludeFromWeightDecay(String regex) {
            noDecay.add(compile(regex, "excludeFromWeightDecay"));
            return this;
        }

        /** Segments whose name matches (find() semantics) get adapt=false. */
        public Builder excludeFromAdaptation(String regex) {
            noAdapt.add(compile(regex, "excludeFromAdaptation"));
            return this;
        }

        /**
         * The output axis of the named segment ({@link Segment#outputAxis()}; 0 when not given):
         * where a weight's memory holds its outputs along another axis than the first, or
         * {@link Segment#NO_OUTPUT_AXIS} for a weight without one (a depthwise kernel), which
         * gradient centralization then leaves alone. Checked by {@link #build()}: the segment must
         * exist and {@code -1 <= axis < rank}.
         */
        public Builder outputAxis(String name, int axis) {
            if (name == null) throw new InvalidLayoutException("outputAxis: segment name is null");
            outputAxes.put(name, axis);
            return this;
        }

        /** Segments of rank 0 or 1 (biases, norm scales) get decay=false and adapt=false. */
        public Builder excludeOneDimensional() {
            excludeOneDimensional = true;
            return this;
        }

        private static Pattern compile(String regex, String rule) {
            if (regex == null) throw new InvalidLayoutException(rule + ": regex is null");
            try {
                return Pattern.compile(regex);
            } catch (PatternSyntaxException e) {
                throw new InvalidLayoutException(rule + ": bad regex '" + regex + "': " + e.getDescription());
            }
        }

        public ParamLayout build() {
            if (entries.isEmpty()) throw new InvalidLayoutException("layout has no segments");
            Map<String, Integer> seen = new LinkedHashMap<>();
            List<Segment> out = new ArrayList<>(entries.size());
            for (int i = 0; i < entries.size(); i++) {
                Entry e = entries.get(i);
                if (e.name == null || e.name.isEmpty()) {
                    throw new InvalidLayoutException("segment #" + i + " has an empty name");
                }
                Integer prev = seen.putIfAbsent(e.name, i);
                if (prev != null) {
                    throw new InvalidLayoutException("duplicate segment name '" + e.name + "' (#" + prev + " and #" + i + ")");
                }
                if (e.shape == null) throw new InvalidLayoutException("segment '" + e.name + "' has a null shape");
                long n = 1;
                for (int d : e.shape) {
                    if (d <= 0) {
                        throw new InvalidLayoutException("segment '" + e.name + "' has a non-positive dimension in shape "
                                + java.util.Arrays.toString(e.shape));
                    }
                    n *= d;
                    if (n > MAX_SEGMENT_LENGTH) {
                        throw new InvalidLayoutException("segment '" + e.name + "' has more than " + MAX_SEGMENT_LENGTH + " elements");
                    }
                }
                boolean decay;
                boolean adapt;
                if (e.decay != null) {
                    decay = e.decay;
                    adapt = e.adapt;
                } else {
                    boolean oneDim = excludeOneDimensional && e.shape.length <= 1;
                    decay = !oneDim && noDecay.stream().noneMatch(p -> p.matcher(e.name).find());
                    adapt = !oneDim && noAdapt.stream().noneMatch(p -> p.matcher(e.name).find());
                }
                int axis = 0;
                Integer given = outputAxes.get(e.name);
                if (given != null) {
                    if (given < Segment.NO_OUTPUT_AXIS || given >= e.shape.length) {
                        throw new InvalidLayoutException("segment '" + e.name + "': output axis " + given + " is not an axis of shape "
                                + java.util.Arrays.toString(e.shape) + " (0 <= axis < " + e.shape.length + ", or -1 for none)");
                    }
                    axis = given;
                }
                out.add(new Segment(e.name, e.shape, (int) n, decay, adapt, axis));
            }
            for (String name : outputAxes.keySet()) {
                if (!seen.containsKey(name)) throw new InvalidLayoutException("outputAxis: no segment named '" + name + "'");
            }
            boolean explicit = entries.stream().anyMatch(e -> e.decay != null);
            return new ParamLayout(out, explicit || !noAdapt.isEmpty() || excludeOneDimensional);
        }
    }
}
