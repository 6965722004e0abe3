// Differential-test driver: decodes mainframe files with Cobrix's own reader (cobol-parser 2.6.9,
// no Spark) and writes JSON lines in the shape of `headwater copybook decode`.
//
// Protocol (one JVM serves many cases, so the start cost is paid once): each line on stdin is
// the path of a case folder holding `copybook.cpy`, `data.bin` and `options.properties` (Cobrix
// option names, e.g. record_format=VB, is_rdw_big_endian=true, ebcdic_code_page=cp037). The
// driver writes `cobrix.jsonl` (one object per record, schema_retention_policy=keep_original) or
// `cobrix.error` (the exception) into that folder, then prints `done <path>` on stdout.
// An empty line or end of input stops the driver.
//
// Compiled at test time by tests/cobrix/cobrix_harness.py; not part of the Headwater package.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import scala.collection.JavaConverters;
import scala.collection.Seq;
import scala.reflect.ClassTag$;
import za.co.absa.cobrix.cobol.parser.ast.Group;
import za.co.absa.cobrix.cobol.parser.ast.Statement;
import za.co.absa.cobrix.cobol.parser.decoders.FloatingPointFormat$;
import za.co.absa.cobrix.cobol.parser.policies.CommentPolicy;
import za.co.absa.cobrix.cobol.parser.policies.FillerNamingPolicy$;
import za.co.absa.cobrix.cobol.parser.policies.StringTrimmingPolicy$;
import za.co.absa.cobrix.cobol.parser.recordformats.RecordFormat;
import za.co.absa.cobrix.cobol.reader.VarLenNestedReader;
import za.co.absa.cobrix.cobol.reader.extractors.record.RecordHandler;
import za.co.absa.cobrix.cobol.reader.parameters.Bdw;
import za.co.absa.cobrix.cobol.reader.parameters.ReaderParameters;
import za.co.absa.cobrix.cobol.reader.policies.SchemaRetentionPolicy$;
import za.co.absa.cobrix.cobol.reader.stream.SimpleMemoryStream;
import za.co.absa.cobrix.cobol.reader.stream.SimpleStream;

public final class CobrixDecode {

    /** Records as ordered maps: group -> LinkedHashMap of its non-FILLER children. */
    static final class MapHandler implements RecordHandler<Map<String, Object>> {
        @Override
        public Map<String, Object> create(Object[] values, Group group) {
            Map<String, Object> out = new LinkedHashMap<>();
            List<Statement> children = JavaConverters.seqAsJavaList(group.children());
            int index = 0;
            for (Statement child : children) {
                if (child.isFiller()) {
                    continue;
                }
                if (index < values.length) {
                    out.put(child.name(), values[index]);
                }
                index++;
            }
            return out;
        }

        @Override
        public Seq<Object> toSeq(Map<String, Object> record) {
            return JavaConverters.asScalaBuffer(new ArrayList<Object>(record.values())).toSeq();
        }

        @Override
        public void foreach(Map<String, Object> record, scala.Function1<Object, scala.runtime.BoxedUnit> f) {
            for (Object value : record.values()) {
                f.apply(value);
            }
        }
    }

    /** An in-memory stream over a whole file (the cases are small). */
    static final class BytesStream implements SimpleStream {
        private final byte[] data;
        private final String name;
        private int position;

        BytesStream(byte[] data, String name) {
            this.data = data;
            this.name = name;
        }

        @Override public long size() { return data.length; }
        @Override public long totalSize() { return data.length; }
        @Override public long offset() { return position; }
        @Override public String inputFileName() { return name; }
        @Override public boolean isEndOfStream() { return position >= data.length; }

        @Override
        public byte[] next(int count) {
            int n = Math.max(0, Math.min(count, data.length - position));
            byte[] out = new byte[n];
            System.arraycopy(data, position, out, 0, n);
            position += n;
            return out;
        }

        @Override public void close() { }
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null && !line.isEmpty()) {
            Path dir = Paths.get(line);
            try {
                runCase(dir);
            } catch (Throwable exc) {
                StringWriter text = new StringWriter();
                exc.printStackTrace(new PrintWriter(text));
                Files.write(dir.resolve("cobrix.error"), text.toString().getBytes(StandardCharsets.UTF_8));
            }
            System.out.println("done " + line);
            System.out.flush();
        }
    }

    static void runCase(Path dir) throws Exception {
        String copybook = new String(Files.readAllBytes(dir.resolve("copybook.cpy")), StandardCharsets.UTF_8);
        byte[] data = Files.readAllBytes(dir.resolve("data.bin"));
        Properties options = new Properties();
        try (java.io.Reader reader = Files.newBufferedReader(dir.resolve("options.properties"))) {
            options.load(reader);
        }
        ReaderParameters params = parameters(options);
        VarLenNestedReader<Map<String, Object>> reader = new VarLenNestedReader<>(
            JavaConverters.asScalaBuffer(java.util.Collections.singletonList(copybook)).toSeq(),
            params,
            new MapHandler(),
            ClassTag$.MODULE$.apply(Map.class));
        long repeat = Long.parseLong(options.getProperty("bench_repeat", "0"));
        if (repeat > 0) {
            bench(reader, data, repeat, dir);
            return;
        }
        scala.collection.Iterator<Seq<Object>> rows = reader.getRecordIterator(
            new BytesStream(data, "data.bin"), new BytesStream(data, "data.bin"), 0L, 0, 0L);
        StringBuilder out = new StringBuilder();
        while (rows.hasNext()) {
            Seq<Object> row = rows.next();
            List<Object> values = JavaConverters.seqAsJavaList(row);
            Map<String, Object> record = new LinkedHashMap<>();
            for (Object value : values) {
                if (value instanceof Map) {
                    @SuppressWarnings("unchecked")
                    Map<String, Object> part = (Map<String, Object>) value;
                    record.putAll(part);
                }
            }
            json(out, record);
            out.append('\n');
        }
        Files.write(dir.resolve("cobrix.jsonl"), out.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** Decode the file `repeat` times (warm JIT); per round: records, seconds, CPU seconds of this thread. */
    static void bench(VarLenNestedReader<Map<String, Object>> reader, byte[] data, long repeat, Path dir)
            throws Exception {
        StringBuilder out = new StringBuilder();
        for (long round = 0; round < repeat; round++) {
            long started = System.nanoTime();
            long cpuStarted = java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
            scala.collection.Iterator<Seq<Object>> rows = reader.getRecordIterator(
                new BytesStream(data, "data.bin"), new BytesStream(data, "data.bin"), 0L, 0, 0L);
            long records = 0;
            while (rows.hasNext()) {
                rows.next();
                records++;
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            double cpu = (java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime()
                - cpuStarted) / 1e9;
            out.append(records).append(' ').append(seconds).append(' ').append(cpu).append('\n');
        }
        Files.write(dir.resolve("cobrix.bench"), out.toString().getBytes(StandardCharsets.UTF_8));
    }

    // ------------------------------------------------------------------ parameters

    static ReaderParameters parameters(Properties options) throws Exception {
        Map<String, Object> set = new LinkedHashMap<>();
        String format = options.getProperty("record_format", "F");
        boolean rdwBig = Boolean.parseBoolean(options.getProperty("is_rdw_big_endian", "false"));
        boolean bdwBig = Boolean.parseBoolean(options.getProperty("is_bdw_big_endian", "false"));
        int rdwAdjustment = Integer.parseInt(options.getProperty("rdw_adjustment", "0"));
        int bdwAdjustment = Integer.parseInt(options.getProperty("bdw_adjustment", "0"));
        switch (format) {
            case "F":
                set.put("recordFormat", RecordFormat.FixedLength$.MODULE$);
                break;
            case "FB":
                set.put("recordFormat", RecordFormat.FixedBlock$.MODULE$);
                set.put("bdw", scala.Option.apply(new Bdw(bdwBig, bdwAdjustment, scala.Option.empty(), scala.Option.empty())));
                break;
            case "V":
                set.put("recordFormat", RecordFormat.VariableLength$.MODULE$);
                set.put("isRecordSequence", true);
                break;
            case "VB":
                set.put("recordFormat", RecordFormat.VariableBlock$.MODULE$);
                set.put("isRecordSequence", true);
                set.put("bdw", scala.Option.apply(new Bdw(bdwBig, bdwAdjustment, scala.Option.empty(), scala.Option.empty())));
                break;
            default:
                throw new IllegalArgumentException("record_format " + format);
        }
        set.put("isRdwBigEndian", rdwBig);
        set.put("rdwAdjustment", rdwAdjustment);
        set.put("isRdwPartRecLength", Boolean.parseBoolean(options.getProperty("is_rdw_part_of_record_length", "false")));
        set.put("ebcdicCodePage", options.getProperty("ebcdic_code_page", "common"));
        set.put("isEbcdic", !"ascii".equals(options.getProperty("encoding", "ebcdic")));
        set.put("variableSizeOccurs", Boolean.parseBoolean(options.getProperty("variable_size_occurs", "false")));
        set.put("strictSignOverpunch", Boolean.parseBoolean(options.getProperty("strict_sign_overpunching", "true")));
        set.put("improvedNullDetection", Boolean.parseBoolean(options.getProperty("improved_null_detection", "true")));
        set.put("dropGroupFillers", Boolean.parseBoolean(options.getProperty("drop_group_fillers", "false")));
        set.put("dropValueFillers", Boolean.parseBoolean(options.getProperty("drop_value_fillers", "true")));
        set.put("fillerNamingPolicy", FillerNamingPolicy$.MODULE$.apply(options.getProperty("filler_naming_policy", "sequence_numbers")));
        set.put("schemaPolicy", SchemaRetentionPolicy$.MODULE$.KeepOriginal());
        set.put("allowPartialRecords", Boolean.parseBoolean(options.getProperty("allow_partial_records", "false")));
        String trimming = options.getProperty("string_trimming_policy", "both");
        set.put("stringTrimmingPolicy", trimming.equals("none") ? StringTrimmingPolicy$.MODULE$.TrimNone()
            : trimming.equals("left") ? StringTrimmingPolicy$.MODULE$.TrimLeft()
            : trimming.equals("right") ? StringTrimmingPolicy$.MODULE$.TrimRight()
            : trimming.equals("keep_all") ? StringTrimmingPolicy$.MODULE$.KeepAll()
            : StringTrimmingPolicy$.MODULE$.TrimBoth());
        String floats = options.getProperty("floating_point_format", "IBM");
        set.put("floatingPointFormat", floats.equals("IEEE754") ? FloatingPointFormat$.MODULE$.IEEE754()
            : floats.equals("IEEE754_little_endian") ? FloatingPointFormat$.MODULE$.IEEE754_LE()
            : floats.equals("IBM_little_endian") ? FloatingPointFormat$.MODULE$.IBM_LE()
            : FloatingPointFormat$.MODULE$.IBM());
        boolean truncate = Boolean.parseBoolean(options.getProperty("truncate_comments", "true"));
        set.put("commentPolicy", new CommentPolicy(truncate,
            Integer.parseInt(options.getProperty("comments_lbound", "6")),
            Integer.parseInt(options.getProperty("comments_ubound", "72"))));
        Map<String, String> fieldPages = new LinkedHashMap<>();
        for (String key : options.stringPropertyNames()) {
            if (key.startsWith("field_code_page:")) {
                String page = key.substring("field_code_page:".length());
                for (String name : options.getProperty(key).split(",")) {
                    fieldPages.put(name.trim().toLowerCase(), page);
                }
            }
        }
        set.put("fieldCodePage", scalaMap(fieldPages));
        return build(set);
    }

    @SuppressWarnings("unchecked")
    static scala.collection.immutable.Map<String, String> scalaMap(Map<String, String> map) {
        scala.collection.immutable.Map<String, String> out = scala.collection.immutable.Map$.MODULE$.empty();
        for (Map.Entry<String, String> entry : map.entrySet()) {
            out = out.$plus(new scala.Tuple2<>(entry.getKey(), entry.getValue()));
        }
        return out;
    }

    /** Build the case class with its Scala defaults, overriding fields by name. */
    static ReaderParameters build(Map<String, Object> overrides) throws Exception {
        List<Field> fields = new ArrayList<>();
        for (Field field : ReaderParameters.class.getDeclaredFields()) {
            if (!Modifier.isStatic(field.getModifiers())) {
                fields.add(field);
            }
        }
        Constructor<?> constructor = null;
        for (Constructor<?> candidate : ReaderParameters.class.getConstructors()) {
            if (candidate.getParameterCount() == fields.size()) {
                constructor = candidate;
            }
        }
        if (constructor == null) {
            throw new IllegalStateException("no ReaderParameters constructor with " + fields.size() + " parameters");
        }
        Object[] arguments = new Object[fields.size()];
        for (int index = 0; index < fields.size(); index++) {
            String name = fields.get(index).getName();
            if (overrides.containsKey(name)) {
                arguments[index] = overrides.get(name);
            } else {
                Method fallback = ReaderParameters.class.getMethod("$lessinit$greater$default$" + (index + 1));
                arguments[index] = fallback.invoke(null);
            }
        }
        for (String name : overrides.keySet()) {
            boolean known = false;
            for (Field field : fields) {
                known |= field.getName().equals(name);
            }
            if (!known) {
                throw new IllegalStateException("ReaderParameters has no field " + name);
            }
        }
        return (ReaderParameters) constructor.newInstance(arguments);
    }

    // ------------------------------------------------------------------ JSON

    static void json(StringBuilder out, Object value) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                string(out, String.valueOf(entry.getKey()));
                out.append(':');
                json(out, entry.getValue());
            }
            out.append('}');
        } else if (value instanceof Object[]) {
            list(out, java.util.Arrays.asList((Object[]) value));
        } else if (value instanceof Seq) {
            list(out, JavaConverters.seqAsJavaList((Seq<?>) value));
        } else if (value instanceof List) {
            list(out, (List<?>) value);
        } else if (value instanceof BigDecimal) {
            out.append(((BigDecimal) value).toPlainString());
        } else if (value instanceof scala.math.BigDecimal) {
            out.append(((scala.math.BigDecimal) value).bigDecimal().toPlainString());
        } else if (value instanceof Double || value instanceof Float) {
            double number = ((Number) value).doubleValue();
            if (Double.isNaN(number) || Double.isInfinite(number)) {
                string(out, String.valueOf(number));
            } else {
                out.append(value instanceof Float ? Float.toString((Float) value) : Double.toString(number));
            }
        } else if (value instanceof Number || value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof byte[]) {
            StringBuilder hex = new StringBuilder();
            for (byte b : (byte[]) value) {
                hex.append(String.format("%02X", b));
            }
            string(out, hex.toString());
        } else {
            string(out, value.toString());
        }
    }

    static void list(StringBuilder out, List<?> values) {
        out.append('[');
        for (int index = 0; index < values.size(); index++) {
            if (index > 0) {
                out.append(',');
            }
            json(out, values.get(index));
        }
        out.append(']');
    }

    static void string(StringBuilder out, String text) {
        out.append('"');
        for (int index = 0; index < text.length(); index++) {
            char c = text.charAt(index);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20 || (c >= 0x7f && c < 0xa0) || Character.isSurrogate(c)) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        out.append('"');
    }
}
