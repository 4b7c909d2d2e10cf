// parse-prometheus-text-format ships no types. What its parser (dist/*.cjs.js, 1.1.1) returns:
// one entry per metric family, in the order of the text, every number as the text spelled it.
declare module "parse-prometheus-text-format" {
  /** One series of a family, or (histograms, summaries) its buckets or quantiles with `count` and `sum`. */
  export interface PrometheusSample {
    /** Counters, gauges and untyped series. */
    value?: string;
    labels?: Record<string, string>;
    /** Histograms: `le` → cumulative count. */
    buckets?: Record<string, string>;
    /** Summaries: quantile → value. */
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }

  export interface MetricFamily {
    name: string;
    /** "" when the text has no HELP line. */
    help: string;
    /** The TYPE line's word upper-cased (COUNTER, GAUGE, HISTOGRAM, SUMMARY), or UNTYPED. */
    type: string;
    metrics: PrometheusSample[];
  }

  /** Throws on a line that is not Prometheus text format. (The package is CommonJS; an ES import's default is its `module.exports`, this function.) */
  export default function parsePrometheusTextFormat(text: string): MetricFamily[];
}
