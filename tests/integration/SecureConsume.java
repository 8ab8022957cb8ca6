/*
 * Reads topics from the beginning over SASL_SSL with Apache Kafka's own
 * Java client (kafka-clients, from the jars scripts/kafka_cluster.py
 * fetches): the independent reader of test_kafka_secure.py, and the one
 * client here whose SCRAM Kafka 4 accepts (librdkafka before 2.6.1 is
 * refused). Run in source-file mode:
 *
 *   java -cp 'LIBS/*' SecureConsume.java BOOTSTRAP CA USER MECHANISM \
 *        WANT TIMEOUT_S TOPIC...
 *
 * The password comes from the environment (LS_SECURE_PASSWORD), not the
 * command line. Prints one line per record, "REC " and a JSON object
 * {topic, partition, offset, key, value}, stops after WANT records (then
 * 1.5 s more, to catch extra ones) or TIMEOUT_S seconds, and ends with
 * "END n". Exit status 0, or 2 when it could not connect or authenticate.
 */
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class SecureConsume {
    public static void main(String[] a) throws Exception {
        if (a.length < 7) {
            System.err.println("usage: SecureConsume BOOTSTRAP CA USER "
                               + "MECHANISM WANT TIMEOUT_S TOPIC...");
            System.exit(64);
        }
        String password = System.getenv("LS_SECURE_PASSWORD");
        String module = a[3].startsWith("SCRAM-")
            ? "org.apache.kafka.common.security.scram.ScramLoginModule"
            : "org.apache.kafka.common.security.plain.PlainLoginModule";
        Properties p = new Properties();
        p.put("bootstrap.servers", a[0]);
        p.put("security.protocol", "SASL_SSL");
        p.put("ssl.truststore.type", "PEM");
        p.put("ssl.truststore.location", a[1]);
        p.put("sasl.mechanism", a[3]);
        p.put("sasl.jaas.config", module + " required username=\"" + a[2]
              + "\" password=\"" + password + "\";");
        p.put("enable.auto.commit", "false");
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        int want = Integer.parseInt(a[4]);
        long deadline = System.nanoTime() + Long.parseLong(a[5]) * 1000000000L;
        ObjectMapper json = new ObjectMapper();
        int got = 0;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 6; i < a.length; i++)
                for (PartitionInfo pi :
                     c.partitionsFor(a[i], Duration.ofSeconds(30)))
                    tps.add(new TopicPartition(a[i], pi.partition()));
            c.assign(tps);
            c.seekToBeginning(tps);
            long grace = -1;
            while (System.nanoTime() < deadline
                   && (grace < 0 || System.nanoTime() < grace)) {
                for (ConsumerRecord<byte[], byte[]> r :
                     c.poll(Duration.ofMillis(200))) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("topic", r.topic());
                    m.put("partition", r.partition());
                    m.put("offset", r.offset());
                    m.put("key", r.key() == null ? null
                          : new String(r.key(), StandardCharsets.UTF_8));
                    m.put("value", r.value() == null ? null
                          : new String(r.value(), StandardCharsets.UTF_8));
                    System.out.println("REC " + json.writeValueAsString(m));
                    got++;
                }
                if (got >= want && grace < 0)
                    grace = System.nanoTime() + 1500000000L;
            }
        } catch (AuthenticationException e) {
            System.out.println("AUTH-FAILED " + e.getMessage());
            System.exit(2);
        } catch (org.apache.kafka.common.errors.TimeoutException e) {
            System.out.println("TIMEOUT " + e.getMessage());
            System.exit(2);
        }
        System.out.println("END " + got);
        System.out.flush();
        System.exit(0);
    }
}
