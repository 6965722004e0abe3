import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.storage.Converter;

/**
 * Reads Headwater's bytes with the JVM's own converters, one request per stdin line:
 * "KIND TOPIC BASE64" with KIND json-numeric, json-base64, json-plain (schemas.enable=false)
 * or avro. Answers one line each:
 * "OK " + the Connect schema and value as Kafka Connect's JsonConverter (decimal.format=NUMERIC)
 * writes them, or "ERR " + the exception. args[0]: Apicurio's v2 API URL for the Avro converter.
 */
public final class Interop {
    private static JsonConverter json(String decimalFormat, boolean schemas) {
        JsonConverter converter = new JsonConverter();
        Map<String, String> config = new HashMap<>();
        config.put("schemas.enable", Boolean.toString(schemas));
        config.put("decimal.format", decimalFormat);
        converter.configure(config, false);
        return converter;
    }

    public static void main(String[] args) throws Exception {
        JsonConverter numeric = json("NUMERIC", true);
        JsonConverter base64 = json("BASE64", true);
        JsonConverter plain = json("NUMERIC", false);
        Converter avro = null;
        if (args.length > 0) {
            avro = (Converter) Class.forName("io.apicurio.registry.utils.converter.AvroConverter")
                    .getDeclaredConstructor().newInstance();
            Map<String, String> config = new HashMap<>();
            config.put("apicurio.registry.url", args[0]);
            config.put("apicurio.registry.as-confluent", "true");
            config.put("apicurio.registry.use-id", "contentId");
            avro.configure(config, false);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("READY");
        System.out.flush();
        String line;
        while ((line = in.readLine()) != null) {
            String[] parts = line.split(" ", 3);
            try {
                byte[] data = Base64.getDecoder().decode(parts[2]);
                Converter reader = switch (parts[0]) {
                    case "json-numeric" -> numeric;
                    case "json-base64" -> base64;
                    case "json-plain" -> plain;
                    case "avro" -> avro;
                    default -> throw new IllegalArgumentException("unknown kind " + parts[0]);
                };
                SchemaAndValue read = reader.toConnectData(parts[1], data);
                byte[] printed = numeric.fromConnectData(parts[1], read.schema(), read.value());
                // A null read (the JSON document null) prints as null: answer it as an envelope too.
                String text = printed == null ? "{\"schema\":null,\"payload\":null}" : new String(printed, StandardCharsets.UTF_8);
                System.out.println("OK " + text);
            } catch (Throwable error) {
                System.out.println("ERR " + error.toString().replace('\n', ' '));
            }
            System.out.flush();
        }
    }
}
