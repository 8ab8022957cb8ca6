package io.leadscore.peer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * The model file (docs/MODEL.md), read with SnakeYAML, and scoring with it:
 * the subset that bench/peers/python_scorer.py scores, rule for rule the same
 * (ignore filters, product routing, duplicate event ids, fit and engagement
 * rules with every condition operator, rule and category caps in
 * epoch-aligned tumbling windows, engagement floor / max, fit min / max,
 * grades, bands, MQL enter / stay; no decay and no hot-lead alerts). Where
 * the Python peer departs from docs/MODEL.md (it matches rules to the event
 * type as written, tests conditions on the event's properties only, and
 * outputs the time of the input), this class does as the Python peer does,
 * so that the two can be compared.
 */
final class Model {
    static final long MIN_BIG = -1_000_000_000L, MAX_BIG = 1_000_000_000L;

    // ------------------------------------------------------------ values

    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d|w)");

    static long duration(Object o) {
        Matcher m = DURATION.matcher(py(o).strip());
        if (!m.matches())
            throw new IllegalArgumentException("bad duration: " + o);
        long n = Long.parseLong(m.group(1));
        switch (m.group(2)) {
            case "ms": return n;
            case "s": return n * 1000L;
            case "m": return n * 60_000L;
            case "h": return n * 3_600_000L;
            case "d": return n * 86_400_000L;
            default: return n * 604_800_000L;
        }
    }

    /** Python's str() of a YAML scalar. */
    static String py(Object o) {
        if (o == null) return "None";
        if (o instanceof Boolean) return (Boolean) o ? "True" : "False";
        return o.toString();
    }

    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }

    static boolean truthy(Object o) {
        if (o == null) return false;
        if (o instanceof Boolean) return (Boolean) o;
        if (o instanceof Number) return ((Number) o).doubleValue() != 0;
        if (o instanceof String) return !((String) o).isEmpty();
        if (o instanceof Map) return !((Map<?, ?>) o).isEmpty();
        if (o instanceof List) return !((List<?>) o).isEmpty();
        return true;
    }

    static int num(Object o) {
        return ((Number) o).intValue();
    }

    /** float() of Python for a string, or null where it raises. */
    static Double pyFloat(String v) {
        String s = v.strip().replace("_", "");
        if (s.isEmpty()) return null;
        String t = lower(s);
        String u = t.startsWith("+") || t.startsWith("-") ? t.substring(1) : t;
        if (u.equals("inf") || u.equals("infinity"))
            return t.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        if (u.equals("nan")) return Double.NaN;
        char last = t.charAt(t.length() - 1);
        if (!(Character.isDigit(last) || last == '.')) return null; // Java would take 1d, 1f
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** fnmatch.translate of Python: a shell pattern as a regular expression. */
    static Pattern glob(String pat) {
        StringBuilder re = new StringBuilder();
        int i = 0, n = pat.length();
        while (i < n) {
            char c = pat.charAt(i++);
            if (c == '*') {
                re.append(".*");
                while (i < n && pat.charAt(i) == '*') i++;
            } else if (c == '?') {
                re.append('.');
            } else if (c == '[') {
                int j = i;
                if (j < n && pat.charAt(j) == '!') j++;
                if (j < n && pat.charAt(j) == ']') j++;
                while (j < n && pat.charAt(j) != ']') j++;
                if (j >= n) {
                    re.append("\\[");
                } else {
                    String stuff = pat.substring(i, j);
                    i = j + 1;
                    StringBuilder cls = new StringBuilder("[");
                    int k = 0;
                    if (stuff.startsWith("!")) {
                        cls.append('^');
                        k = 1;
                    }
                    for (; k < stuff.length(); k++) {
                        char d = stuff.charAt(k);
                        if (d == '\\' || d == '[' || d == ']' || d == '&' || d == '^')
                            cls.append('\\');
                        cls.append(d);
                    }
                    re.append(cls).append(']');
                }
            } else {
                re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return Pattern.compile(re.toString(), Pattern.DOTALL);
    }

    // -------------------------------------------------------- conditions

    enum Op { EQUALS, IN, PREFIX, GLOB, REGEX, RANGE, IN_LIST, EXISTS }

    private static final String[] OPS = {"equals", "in", "prefix", "glob", "regex", "range", "in_list", "exists"};

    /** One condition: equals, in, prefix, glob, regex, range, in_list, exists; with not. */
    static final class Cond {
        final boolean neg;
        Op op;
        String str;
        Set<String> set;
        Pattern re;
        Double min, max;
        boolean exists;

        Cond(Object spec, Map<String, Set<String>> lists) {
            Map<?, ?> m;
            if (spec instanceof Map) {
                m = (Map<?, ?>) spec;
            } else {
                Map<String, Object> e = new HashMap<>();
                e.put("equals", spec);
                m = e;
            }
            neg = truthy(m.get("not"));
            String name = null;
            for (String o : OPS)
                if (m.containsKey(o)) {
                    name = o;
                    break;
                }
            if (name == null)
                throw new IllegalArgumentException("condition without an operator: " + spec);
            Object arg = m.get(name);
            switch (name) {
                case "equals": op = Op.EQUALS; str = lower(py(arg)); break;
                case "prefix": op = Op.PREFIX; str = lower(py(arg)); break;
                case "glob": op = Op.GLOB; re = glob(lower(py(arg))); break;
                case "in":
                    op = Op.IN;
                    set = new HashSet<>();
                    for (Object x : (List<?>) arg) set.add(lower(py(x)));
                    break;
                case "regex":
                    op = Op.REGEX;
                    re = Pattern.compile(py(arg), Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);
                    break;
                case "range": {
                    op = Op.RANGE;
                    Map<?, ?> r = (Map<?, ?>) arg;
                    min = r.get("min") == null ? null : ((Number) r.get("min")).doubleValue();
                    max = r.get("max") == null ? null : ((Number) r.get("max")).doubleValue();
                    break;
                }
                case "in_list":
                    op = Op.IN_LIST;
                    set = lists.get(py(arg));
                    if (set == null) throw new IllegalArgumentException("unknown list " + arg);
                    break;
                default: op = Op.EXISTS; exists = truthy(arg);
            }
        }

        boolean test(String value) {
            if (op == Op.EXISTS) {
                boolean r = (value != null && !value.isEmpty()) == exists;
                return r != neg;
            }
            if (value == null) return neg;
            String v = lower(value);
            boolean r;
            switch (op) {
                case EQUALS: r = v.equals(str); break;
                case IN: r = set.contains(v); break;
                case PREFIX: r = v.startsWith(str); break;
                case GLOB: r = re.matcher(v).matches(); break;
                case REGEX: r = re.matcher(value).find(); break;
                case RANGE: {
                    Double x = pyFloat(v);
                    r = x != null && (min == null || x >= min) && (max == null || x <= max);
                    break;
                }
                default: {
                    int at = v.lastIndexOf('@');
                    r = set.contains(at < 0 ? v : v.substring(at + 1));
                }
            }
            return r != neg;
        }
    }

    /** A condition on one field (of an event's properties). */
    static final class FieldCond {
        final String field;
        final Cond cond;

        FieldCond(String field, Cond cond) {
            this.field = field;
            this.cond = cond;
        }
    }

    static List<FieldCond> conds(Object spec, Map<String, Set<String>> lists) {
        List<FieldCond> out = new ArrayList<>();
        if (!truthy(spec)) return out;
        if (spec instanceof List) { // ignore: [{field: x, glob: y}]
            for (Object o : (List<?>) spec) {
                Map<String, Object> c = new LinkedHashMap<>();
                for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet())
                    if (!e.getKey().equals("field")) c.put(e.getKey().toString(), e.getValue());
                out.add(new FieldCond(py(((Map<?, ?>) o).get("field")), new Cond(c, lists)));
            }
        } else {
            for (Map.Entry<?, ?> e : ((Map<?, ?>) spec).entrySet())
                out.add(new FieldCond(py(e.getKey()), new Cond(e.getValue(), lists)));
        }
        return out;
    }

    static boolean all(List<FieldCond> cs, Map<String, String> props) {
        for (FieldCond c : cs)
            if (!c.cond.test(props.get(c.field))) return false;
        return true;
    }

    // -------------------------------------------------------------- caps

    /** A cap: count or points within an epoch-aligned window (per), or for ever. */
    static final class Cap {
        final long per; // 0: for ever
        final boolean isCount;
        final long limit;

        Cap(Map<?, ?> m) {
            per = m.containsKey("per") ? duration(m.get("per")) : 0;
            isCount = m.containsKey("count");
            limit = ((Number) m.get(isCount ? "count" : "points")).longValue();
        }

        /** The points allowed; updates slot (window start, used) in s.caps. */
        int take(ModelState s, int slot, long t, int pts) {
            long start = per > 0 ? Math.floorDiv(t, per) * per : 0;
            long ws = s.capStart[slot], used = s.capUsed[slot];
            if (!s.capSet[slot] || ws != start) {
                ws = start;
                used = 0;
            }
            if (isCount) {
                if (used >= limit) return 0;
                s.capSet[slot] = true;
                s.capStart[slot] = ws;
                s.capUsed[slot] = used + 1;
                return pts;
            }
            long room = limit - used;
            int allowed = pts > 0 ? (int) Math.max(0, Math.min(pts, room)) : pts;
            s.capSet[slot] = true;
            s.capStart[slot] = ws;
            s.capUsed[slot] = used + Math.max(0, allowed);
            return allowed;
        }
    }

    // ------------------------------------------------------------- rules

    static final class FitRule {
        final String id, attribute;
        final Cond cond;
        final int points;

        FitRule(Map<?, ?> r, Map<String, Set<String>> lists) {
            id = py(r.get("id"));
            attribute = py(r.get("attribute"));
            cond = new Cond(r, lists);
            points = num(r.get("points"));
        }
    }

    static final class Rule {
        final String id;
        final List<FieldCond> when, unless;
        final int points;
        final int capSlot, catSlot; // -1: none
        final Cap cap, catCap;

        Rule(String id, List<FieldCond> when, List<FieldCond> unless, int points, Cap cap, int capSlot,
             Cap catCap, int catSlot) {
            this.id = id;
            this.when = when;
            this.unless = unless;
            this.points = points;
            this.cap = cap;
            this.capSlot = capSlot;
            this.catCap = catCap;
            this.catSlot = catSlot;
        }
    }

    /** One entry of `models`. */
    static final class Def {
        final String id;
        final Set<String> products = new HashSet<>();
        final long fitMin, fitMax, floor, max;
        final List<FitRule> fitRules = new ArrayList<>();
        final Map<String, List<Rule>> rules = new HashMap<>();
        final String[] grades, bands;
        final Long[] gradeMin, bandMin;
        final String[] cells;
        final Map<?, ?> enter, stay;
        final Integer[] enterGrade = new Integer[1], stayGrade = new Integer[1];
        int slots;

        Def(Map<?, ?> m, Map<String, Set<String>> lists) {
            id = py(m.get("id"));
            if (m.get("products") != null)
                for (Object p : (List<?>) m.get("products")) products.add(py(p));
            Map<?, ?> fit = m.get("fit") == null ? Map.of() : (Map<?, ?>) m.get("fit");
            fitMin = fit.containsKey("min") ? ((Number) fit.get("min")).longValue() : MIN_BIG;
            fitMax = fit.containsKey("max") ? ((Number) fit.get("max")).longValue() : MAX_BIG;
            if (fit.get("rules") != null)
                for (Object r : (List<?>) fit.get("rules")) fitRules.add(new FitRule((Map<?, ?>) r, lists));
            Map<?, ?> eng = m.get("engagement") == null ? Map.of() : (Map<?, ?>) m.get("engagement");
            floor = eng.containsKey("floor") ? ((Number) eng.get("floor")).longValue() : 0;
            max = eng.containsKey("max") ? ((Number) eng.get("max")).longValue() : MAX_BIG;
            Map<String, Cap> cats = new HashMap<>();
            Map<String, Integer> catSlots = new HashMap<>();
            if (eng.get("categories") != null)
                for (Map.Entry<?, ?> e : ((Map<?, ?>) eng.get("categories")).entrySet()) {
                    Map<?, ?> c = e.getValue() == null ? Map.of() : (Map<?, ?>) e.getValue();
                    if (truthy(c.get("cap"))) {
                        cats.put(py(e.getKey()), new Cap((Map<?, ?>) c.get("cap")));
                        catSlots.put(py(e.getKey()), slots++);
                    }
                }
            Map<String, Integer> ruleSlots = new HashMap<>();
            if (eng.get("rules") != null)
                for (Object o : (List<?>) eng.get("rules")) {
                    Map<?, ?> r = (Map<?, ?>) o;
                    String rid = py(r.get("id"));
                    Cap cap = null;
                    int capSlot = -1;
                    if (truthy(r.get("cap"))) { // the Python peer keys a rule's counter by its id
                        cap = new Cap((Map<?, ?>) r.get("cap"));
                        capSlot = ruleSlots.computeIfAbsent(rid, k -> slots++);
                    }
                    String cat = r.get("category") == null ? null : py(r.get("category"));
                    Cap catCap = cat == null || cat.isEmpty() ? null : cats.get(cat);
                    int catSlot = catCap == null ? -1 : catSlots.get(cat);
                    rules.computeIfAbsent(py(r.get("event")), k -> new ArrayList<>()).add(
                            new Rule(rid, conds(r.get("when"), lists), conds(r.get("unless"), lists),
                                    num(r.get("points")), cap, capSlot, catCap, catSlot));
                }
            List<?> g = (List<?>) m.get("grades"), b = (List<?>) m.get("bands");
            grades = new String[g.size()];
            gradeMin = new Long[g.size()];
            for (int i = 0; i < g.size(); i++) {
                Map<?, ?> x = (Map<?, ?>) g.get(i);
                grades[i] = py(x.get("name"));
                gradeMin[i] = x.get("min") == null ? null : ((Number) x.get("min")).longValue();
            }
            bands = new String[b.size()];
            bandMin = new Long[b.size()];
            for (int i = 0; i < b.size(); i++) {
                Map<?, ?> x = (Map<?, ?>) b.get(i);
                bands[i] = py(x.get("name"));
                bandMin[i] = x.get("min") == null ? null : ((Number) x.get("min")).longValue();
            }
            cells = new String[grades.length * bands.length];
            for (int i = 0; i < grades.length; i++)
                for (int j = 0; j < bands.length; j++)
                    cells[i * bands.length + j] = grades[i] + (j + 1);
            Map<?, ?> mql = m.get("mql") == null ? Map.of() : (Map<?, ?>) m.get("mql");
            enter = mql.get("enter") == null ? Map.of() : (Map<?, ?>) mql.get("enter");
            stay = mql.get("stay") == null ? Map.of() : (Map<?, ?>) mql.get("stay");
        }

        int grade(long fit) {
            for (int i = 0; i < grades.length; i++)
                if (gradeMin[i] == null || fit >= gradeMin[i]) return i;
            return grades.length - 1;
        }

        int band(long eng) {
            int r = 0;
            for (int i = 0; i < bands.length; i++)
                if (bandMin[i] == null || eng >= bandMin[i]) r = i;
            return r;
        }

        private int index(String[] names, Object name) {
            String n = py(name);
            for (int i = 0; i < names.length; i++)
                if (names[i].equals(n)) return i;
            throw new IllegalArgumentException("no grade or band " + n);
        }

        boolean isMql(Map<?, ?> crit, long total, int g, int b) {
            if (crit.containsKey("min_total") && total < ((Number) crit.get("min_total")).longValue())
                return false;
            if (crit.containsKey("min_grade") && g > index(grades, crit.get("min_grade")))
                return false;
            if (crit.containsKey("min_band") && b < index(bands, crit.get("min_band")))
                return false;
            return true;
        }
    }

    // ------------------------------------------------------------- state

    /** A lead's state under one model. */
    static final class ModelState {
        int fit, eng;
        long seq;
        boolean mql;
        final boolean[] capSet;
        final long[] capStart, capUsed;

        ModelState(int slots) {
            capSet = new boolean[slots];
            capStart = new long[slots];
            capUsed = new long[slots];
        }
    }

    /** A lead's state: its attributes, its last event ids and one ModelState per model. */
    static final class Lead {
        final Map<String, String> attrs = new HashMap<>();
        final ArrayList<String> ids = new ArrayList<>();
        final ModelState[] m;

        Lead(Model set) {
            m = new ModelState[set.models.size()];
            for (int i = 0; i < m.length; i++) m[i] = new ModelState(set.models.get(i).slots);
        }
    }

    /** One output: a score update, and the MQL alert it may carry. */
    static final class Output {
        String leadId, model, cause, causeId, grade, band, cell, alert;
        long seq, time;
        int total, fit, engagement, prevTotal;
        boolean mql;
        final List<Object[]> reasons = new ArrayList<>(); // kind, rule, points, capped
    }

    // ------------------------------------------------------------- model

    final List<Def> models = new ArrayList<>();
    final List<FieldCond> ignore;
    final int dedupe;

    Model(Path path) throws IOException {
        LoaderOptions lo = new LoaderOptions();
        lo.setAllowDuplicateKeys(false);
        Map<?, ?> ms = new Yaml(lo).load(Files.readString(path, StandardCharsets.UTF_8));
        Path base = path.toAbsolutePath().getParent();
        Map<String, Set<String>> lists = new HashMap<>();
        if (ms.get("lists") != null)
            for (Map.Entry<?, ?> e : ((Map<?, ?>) ms.get("lists")).entrySet()) {
                Set<String> items = new HashSet<>();
                for (String l : Files.readAllLines(base.resolve(py(e.getValue())), StandardCharsets.UTF_8))
                    if (!l.strip().isEmpty() && !l.startsWith("#")) items.add(lower(l.strip()));
                lists.put(py(e.getKey()), items);
            }
        dedupe = ms.containsKey("dedupe") ? num(ms.get("dedupe")) : 8;
        ignore = conds(ms.get("ignore"), lists);
        for (Object m : (List<?>) ms.get("models")) models.add(new Def((Map<?, ?>) m, lists));
    }

    private Output update(Def m, ModelState s, String leadId, long t, String causeId, boolean isEvent,
                          List<Object[]> reasons, int prev) {
        Output o = new Output();
        long total = (long) s.fit + s.eng;
        int g = m.grade(s.fit), b = m.band(s.eng);
        boolean was = s.mql;
        s.mql = m.isMql(was ? m.stay : m.enter, total, g, b);
        if (s.mql != was) o.alert = s.mql ? "mql" : "mql_lost";
        s.seq++;
        o.leadId = leadId;
        o.model = m.id;
        o.seq = s.seq;
        o.time = t;
        o.cause = isEvent ? "event" : "profile";
        o.causeId = causeId;
        o.total = (int) total;
        o.fit = s.fit;
        o.engagement = s.eng;
        o.prevTotal = prev;
        o.grade = m.grades[g];
        o.band = m.bands[b];
        o.cell = m.cells[g * m.bands.length + b];
        o.mql = s.mql;
        o.reasons.addAll(reasons);
        return o;
    }

    /**
     * Scores an event. Returns false if it changed nothing of the lead's
     * state (ignored, or a duplicate), else true, with outs filled.
     */
    boolean event(Lead st, String leadId, String eventId, String type, long occurredAt, String product,
                  Map<String, String> props, List<Output> outs) {
        for (FieldCond c : ignore)
            if (c.cond.test(props.get(c.field))) return false;
        if (eventId != null && !eventId.isEmpty()) {
            if (st.ids.contains(eventId)) return false;
            st.ids.add(eventId);
            if (dedupe > 0)
                while (st.ids.size() > dedupe) st.ids.remove(0);
        }
        boolean anyProduct = product == null || product.isEmpty();
        for (int mi = 0; mi < models.size(); mi++) {
            Def m = models.get(mi);
            if (!anyProduct && !m.products.isEmpty() && !m.products.contains(product)) continue;
            List<Rule> rules = m.rules.get(type);
            if (rules == null) continue;
            ModelState s = st.m[mi];
            int prev = s.fit + s.eng;
            List<Object[]> reasons = null;
            boolean anyPoints = false;
            for (Rule r : rules) {
                if (!all(r.when, props)) continue;
                if (!r.unless.isEmpty() && all(r.unless, props)) continue;
                int got = r.points;
                if (r.cap != null) got = r.cap.take(s, r.capSlot, occurredAt, got);
                if (r.catCap != null) got = r.catCap.take(s, r.catSlot, occurredAt, got);
                long nw = Math.min(m.max, Math.max(m.floor, (long) s.eng + got));
                got = (int) (nw - s.eng);
                s.eng = (int) nw;
                if (reasons == null) reasons = new ArrayList<>(2);
                reasons.add(new Object[] {"rule", r.id, got, r.points - got});
                anyPoints |= got != 0;
            }
            if (reasons != null && (s.fit + s.eng != prev || anyPoints))
                outs.add(update(m, s, leadId, occurredAt, eventId, true, reasons, prev));
        }
        return true;
    }

    /** Scores a profile update (always changes the lead's state). */
    void profile(Lead st, String leadId, long updatedAt, Map<String, String> attributes, List<Output> outs) {
        for (Map.Entry<String, String> e : attributes.entrySet()) {
            if (e.getValue() != null && !e.getValue().isEmpty()) st.attrs.put(e.getKey(), e.getValue());
            else st.attrs.remove(e.getKey());
        }
        for (int mi = 0; mi < models.size(); mi++) {
            Def m = models.get(mi);
            ModelState s = st.m[mi];
            long fit = 0;
            List<Object[]> reasons = new ArrayList<>();
            for (FitRule r : m.fitRules)
                if (r.cond.test(st.attrs.get(r.attribute))) {
                    fit += r.points;
                    reasons.add(new Object[] {"fit", r.id, r.points, 0});
                }
            fit = Math.min(m.fitMax, Math.max(m.fitMin, fit));
            if (fit != s.fit) {
                int prev = s.fit + s.eng;
                s.fit = (int) fit;
                outs.add(update(m, s, leadId, updatedAt, null, false, reasons, prev));
            }
        }
    }
}
