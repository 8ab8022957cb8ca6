package io.leadscore.peer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Scores the merged events and profiles of one task (one partition of
 * each input topic, co-partitioned) against the lead state kept in the
 * task's persistent store; forwards a ScoreUpdate per changed model to the
 * "scores" sink and an Alert per MQL transition to the "alerts" sink.
 */
final class ScoreProcessor implements Processor<String, byte[], String, byte[]> {
    static final String STORE = "lead-state";

    private final Model model;
    private final Path schemas;
    private final String eventsTopic;
    private final AtomicLong processed, outputs;
    private Codec codec;
    private ProcessorContext<String, byte[]> ctx;
    private KeyValueStore<String, byte[]> store;
    private final List<Model.Output> outs = new ArrayList<>();

    ScoreProcessor(Model model, Path schemas, String eventsTopic, AtomicLong processed, AtomicLong outputs) {
        this.model = model;
        this.schemas = schemas;
        this.eventsTopic = eventsTopic;
        this.processed = processed;
        this.outputs = outputs;
    }

    @Override
    public void init(ProcessorContext<String, byte[]> context) {
        ctx = context;
        store = context.getStateStore(STORE);
        codec = new Codec(schemas);
    }

    @Override
    public void process(Record<String, byte[]> rec) {
        String topic = ctx.recordMetadata().map(m -> m.topic()).orElse(eventsTopic);
        outs.clear();
        try {
            if (topic.equals(eventsTopic)) {
                GenericRecord e = codec.event(rec.value());
                String lead = e.get("lead_id").toString();
                Model.Lead st = Codec.lead(model, store.get(lead));
                if (model.event(st, lead, Codec.str(e.get("event_id")), e.get("event_type").toString(),
                        (Long) e.get("occurred_at"), Codec.str(e.get("product")),
                        Codec.map(e.get("properties")), outs))
                    store.put(lead, codec.state(st));
            } else {
                GenericRecord p = codec.profile(rec.value());
                String lead = p.get("lead_id").toString();
                Model.Lead st = Codec.lead(model, store.get(lead));
                model.profile(st, lead, (Long) p.get("updated_at"), Codec.map(p.get("attributes")), outs);
                store.put(lead, codec.state(st));
            }
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
        for (Model.Output o : outs) {
            ctx.forward(new Record<>(o.leadId, codec.score(o), rec.timestamp()), "scores");
            outputs.incrementAndGet();
            if (o.alert != null) {
                ctx.forward(new Record<>(o.leadId, codec.alert(o), rec.timestamp()), "alerts");
                outputs.incrementAndGet();
            }
        }
        processed.incrementAndGet();
    }
}
