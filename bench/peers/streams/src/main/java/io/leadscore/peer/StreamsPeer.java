package io.leadscore.peer;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams peer of docs/PERFORMANCE.md.
 *
 * <pre>
 *   java -jar streams-peer.jar run --config FILE
 * </pre>
 *
 * FILE is a Java properties file. Keys starting with "peer." are the peer's
 * own; every other key goes to StreamsConfig unchanged (application.id,
 * bootstrap.servers, processing.guarantee, commit.interval.ms,
 * num.stream.threads, consumer.* and producer.* overrides, state.dir, ...).
 *
 * <pre>
 *   peer.model          the model file (docs/MODEL.md)
 *   peer.schemas        the directory of the Avro schemas (schemas/)
 *   peer.topic.events   input, LeadEvent Avro, key lead id (lead-events)
 *   peer.topic.profiles input, LeadProfile Avro, co-partitioned (lead-profiles)
 *   peer.topic.scores   output, ScoreUpdate Avro (bench-streams-scores)
 *   peer.topic.alerts   output, Alert Avro: mql and mql_lost (bench-streams-alerts)
 *   peer.warmup         0, or N: first run the same topology over the inputs
 *                       under application.id + "-warmup" until it has
 *                       processed N records, close it and delete its local
 *                       state, and only then start the measured instance
 *                       (the JVM has compiled its hot paths by then)
 *   peer.cpu.mark       a file to write the process's CPU time (clock ticks
 *                       of /proc/self/stat, utime + stime) to, as the
 *                       measured instance starts
 * </pre>
 *
 * The measured instance runs until SIGTERM, then closes (commits) and exits.
 */
public final class StreamsPeer {
    private StreamsPeer() {
    }

    static Topology topology(Model model, Path schemas, Properties peer, AtomicLong processed, AtomicLong outputs) {
        String events = peer.getProperty("peer.topic.events", "lead-events");
        String profiles = peer.getProperty("peer.topic.profiles", "lead-profiles");
        Topology t = new Topology();
        // one source over both topics: their partitions p go to the same task
        t.addSource("inputs", Serdes.String().deserializer(), Serdes.ByteArray().deserializer(), events,
                profiles);
        t.addProcessor("score", () -> new ScoreProcessor(model, schemas, events, processed, outputs), "inputs");
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(ScoreProcessor.STORE),
                Serdes.String(), Serdes.ByteArray()).withCachingEnabled().withLoggingEnabled(java.util.Map.of()),
                "score");
        t.addSink("scores", peer.getProperty("peer.topic.scores", "bench-streams-scores"),
                Serdes.String().serializer(), Serdes.ByteArray().serializer(), "score");
        t.addSink("alerts", peer.getProperty("peer.topic.alerts", "bench-streams-alerts"),
                Serdes.String().serializer(), Serdes.ByteArray().serializer(), "score");
        return t;
    }

    static long cpuTicks() throws IOException {
        String s = Files.readString(Path.of("/proc/self/stat"));
        String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 and 15
    }

    static KafkaStreams start(Topology t, Properties streams, CountDownLatch failed) {
        KafkaStreams ks = new KafkaStreams(t, streams);
        ks.setUncaughtExceptionHandler(e -> {
            System.err.println("streams-peer: " + e);
            e.printStackTrace();
            failed.countDown();
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        ks.start();
        return ks;
    }

    public static void main(String[] args) throws Exception {
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null)
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        if (args.length != 3 || !args[0].equals("run") || !args[1].equals("--config")) {
            System.err.println("usage: streams-peer run --config FILE");
            System.exit(64);
        }
        Properties all = new Properties();
        try (Reader r = Files.newBufferedReader(Path.of(args[2]))) {
            all.load(r);
        }
        Properties peer = new Properties(), streams = new Properties();
        for (String k : all.stringPropertyNames())
            (k.startsWith("peer.") ? peer : streams).setProperty(k, all.getProperty(k).strip());
        Model model = new Model(Path.of(peer.getProperty("peer.model")));
        Path schemas = Path.of(peer.getProperty("peer.schemas"));
        String appId = streams.getProperty(StreamsConfig.APPLICATION_ID_CONFIG);
        CountDownLatch failed = new CountDownLatch(1);

        long warmup = Long.parseLong(peer.getProperty("peer.warmup", "0"));
        if (warmup > 0) {
            long t0 = System.nanoTime();
            AtomicLong n = new AtomicLong();
            Properties w = new Properties();
            w.putAll(streams);
            w.setProperty(StreamsConfig.APPLICATION_ID_CONFIG, appId + "-warmup");
            KafkaStreams ks = start(topology(model, schemas, peer, n, new AtomicLong()), w, failed);
            while (n.get() < warmup) {
                if (failed.getCount() == 0) System.exit(1);
                Thread.sleep(20);
            }
            ks.close(Duration.ofSeconds(60));
            ks.cleanUp();
            System.err.printf("streams-peer: warm-up round: %d records in %.1f s%n", n.get(),
                    (System.nanoTime() - t0) / 1e9);
        }
        String mark = peer.getProperty("peer.cpu.mark");
        if (mark != null)
            Files.writeString(Path.of(mark), cpuTicks() + "\n");

        AtomicLong n = new AtomicLong(), outs = new AtomicLong();
        KafkaStreams ks = start(topology(model, schemas, peer, n, outs), streams, failed);
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            ks.close(Duration.ofSeconds(30));
            System.err.printf("streams-peer: stopped after %d records, %d outputs%n", n.get(), outs.get());
            stop.countDown();
        }));
        System.err.printf("streams-peer: running, application.id %s, %s%n", appId,
                streams.getProperty(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, "at_least_once"));
        while (!stop.await(100, java.util.concurrent.TimeUnit.MILLISECONDS))
            if (failed.getCount() == 0) {
                Runtime.getRuntime().halt(1);
            }
    }
}
