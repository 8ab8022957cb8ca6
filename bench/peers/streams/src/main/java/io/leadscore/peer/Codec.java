package io.leadscore.peer;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;

/**
 * Avro in and out with the schemas of schemas/ (the generic API, records
 * reused), and the binary form of a lead's state in the store. One per
 * processor (not thread-safe).
 */
final class Codec {
    static final String MODEL_VERSION = "streams-peer";

    final Schema event, profile, score, alert, reason;
    private final GenericDatumReader<GenericRecord> rEvent, rProfile;
    private final GenericDatumWriter<GenericRecord> wScore, wAlert;
    private BinaryDecoder dec;
    private BinaryEncoder enc;
    private GenericRecord evReuse, prReuse;
    private final Object[][] scoreDefaults, alertDefaults;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    private final ByteArrayOutputStream stateBytes = new ByteArrayOutputStream(256);
    private final DataOutputStream stateOut = new DataOutputStream(stateBytes);

    static Schema load(Path dir, String name) {
        try {
            Schema s = new Schema.Parser().parse(Files.readString(dir.resolve(name)));
            GenericData.setStringType(s, GenericData.StringType.String);
            return s;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Codec(Path schemas) {
        event = load(schemas, "lead_event.avsc");
        profile = load(schemas, "lead_profile.avsc");
        score = load(schemas, "score_update.avsc");
        alert = load(schemas, "alert.avsc");
        reason = score.getField("reasons").schema().getElementType();
        rEvent = new GenericDatumReader<>(event);
        rProfile = new GenericDatumReader<>(profile);
        wScore = new GenericDatumWriter<>(score);
        wAlert = new GenericDatumWriter<>(alert);
        scoreDefaults = defaults(score);
        alertDefaults = defaults(alert);
    }

    private static final java.util.Set<String> FILLED = java.util.Set.of("id", "alert", "lead_id", "model",
            "model_version", "seq", "time", "cause", "cause_id", "total", "fit", "engagement", "prev_total",
            "grade", "band", "cell", "mql", "reasons");

    /**
     * The default values of the fields this peer does not fill (a newer
     * schema's additions, such as what leadscore's alerts carry), as
     * (position, value) pairs: a generic record does not apply defaults.
     */
    private static Object[][] defaults(Schema s) {
        List<Object[]> d = new ArrayList<>();
        for (Schema.Field f : s.getFields())
            if (!FILLED.contains(f.name()) && f.hasDefaultValue())
                d.add(new Object[] {f.pos(), GenericData.get().getDefaultValue(f)});
        return d.toArray(new Object[0][]);
    }

    GenericRecord event(byte[] b) throws IOException {
        dec = DecoderFactory.get().binaryDecoder(b, dec);
        return evReuse = rEvent.read(evReuse, dec);
    }

    GenericRecord profile(byte[] b) throws IOException {
        dec = DecoderFactory.get().binaryDecoder(b, dec);
        return prReuse = rProfile.read(prReuse, dec);
    }

    @SuppressWarnings("unchecked")
    static Map<String, String> map(Object o) {
        Map<?, ?> m = (Map<?, ?>) o;
        if (m.isEmpty()) return Map.of();
        for (Object k : m.keySet())
            if (!(k instanceof String)) { // Utf8 keys: copy
                Map<String, String> r = new HashMap<>();
                for (Map.Entry<?, ?> e : m.entrySet()) r.put(e.getKey().toString(), e.getValue().toString());
                return r;
            }
        return (Map<String, String>) m;
    }

    static String str(Object o) {
        return o == null ? null : o.toString();
    }

    private byte[] write(GenericDatumWriter<GenericRecord> w, GenericRecord r) {
        try {
            out.reset();
            enc = EncoderFactory.get().directBinaryEncoder(out, enc);
            w.write(r, enc);
            enc.flush();
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private GenericRecord fill(GenericRecord r, Model.Output o, Object[][] defaults) {
        for (Object[] d : defaults)
            r.put((Integer) d[0], d[1]);
        r.put("lead_id", o.leadId);
        r.put("model", o.model);
        r.put("model_version", MODEL_VERSION);
        r.put("seq", o.seq);
        r.put("time", o.time);
        r.put("cause", o.cause);
        r.put("cause_id", o.causeId);
        r.put("total", o.total);
        r.put("fit", o.fit);
        r.put("engagement", o.engagement);
        r.put("prev_total", o.prevTotal);
        r.put("grade", o.grade);
        r.put("band", o.band);
        r.put("cell", o.cell);
        r.put("mql", o.mql);
        List<GenericRecord> rs = new ArrayList<>(o.reasons.size());
        for (Object[] x : o.reasons) {
            GenericRecord g = new GenericData.Record(reason);
            g.put("kind", x[0]);
            g.put("rule", x[1]);
            g.put("points", x[2]);
            g.put("capped", x[3]);
            rs.add(g);
        }
        r.put("reasons", rs);
        return r;
    }

    /** A ScoreUpdate: id lead_id/model/seq. */
    byte[] score(Model.Output o) {
        GenericRecord r = fill(new GenericData.Record(score), o, scoreDefaults);
        r.put("id", o.leadId + "/" + o.model + "/" + o.seq);
        return write(wScore, r);
    }

    /** An Alert (mql or mql_lost): id lead_id/model/seq/alert. */
    byte[] alert(Model.Output o) {
        GenericRecord r = fill(new GenericData.Record(alert), o, alertDefaults);
        r.put("id", o.leadId + "/" + o.model + "/" + o.seq + "/" + o.alert);
        r.put("alert", o.alert);
        return write(wAlert, r);
    }

    // ------------------------------------------------------ lead state

    byte[] state(Model.Lead l) {
        try {
            stateBytes.reset();
            DataOutputStream d = stateOut;
            d.writeShort(l.attrs.size());
            for (Map.Entry<String, String> e : l.attrs.entrySet()) {
                d.writeUTF(e.getKey());
                d.writeUTF(e.getValue());
            }
            d.writeShort(l.ids.size());
            for (String id : l.ids) d.writeUTF(id);
            for (Model.ModelState s : l.m) {
                d.writeInt(s.fit);
                d.writeInt(s.eng);
                d.writeLong(s.seq);
                d.writeBoolean(s.mql);
                for (int i = 0; i < s.capSet.length; i++) {
                    d.writeBoolean(s.capSet[i]);
                    if (s.capSet[i]) {
                        d.writeLong(s.capStart[i]);
                        d.writeLong(s.capUsed[i]);
                    }
                }
            }
            d.flush();
            return stateBytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Model.Lead lead(Model set, byte[] b) {
        Model.Lead l = new Model.Lead(set);
        if (b == null) return l;
        try {
            DataInputStream d = new DataInputStream(new java.io.ByteArrayInputStream(b));
            for (int i = d.readShort(); i > 0; i--) l.attrs.put(d.readUTF(), d.readUTF());
            for (int i = d.readShort(); i > 0; i--) l.ids.add(d.readUTF());
            for (Model.ModelState s : l.m) {
                s.fit = d.readInt();
                s.eng = d.readInt();
                s.seq = d.readLong();
                s.mql = d.readBoolean();
                for (int i = 0; i < s.capSet.length; i++) {
                    s.capSet[i] = d.readBoolean();
                    if (s.capSet[i]) {
                        s.capStart[i] = d.readLong();
                        s.capUsed[i] = d.readLong();
                    }
                }
            }
            return l;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
