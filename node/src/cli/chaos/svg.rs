//! The chaos run's timeline as an SVG picture: committed transactions per
//! second above, latency (p50 and p99, log scale) below, each fault's window
//! shaded across both, labelled with what it was.

use std::fmt::Write as _;

use super::check::Bin;
use super::input::Fault;

const W: f64 = 1200.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 50.0;
const PANEL: f64 = 180.0;
const GAP: f64 = 50.0;

/// The colour of a fault kind's window.
fn colour(kind: &str) -> &'static str {
    match kind {
        "partition" => "#e4572e",
        "bridge" => "#f3a712",
        "isolate" | "flap" => "#a8c686",
        "kill" => "#669bbc",
        "pause" => "#b388eb",
        "loss" => "#8d99ae",
        "throttle" => "#9a8c98",
        "skew" => "#f7b2ad",
        _ => "#cccccc",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders the picture. `title` goes on top; `span_ms` is the run's length.
pub(crate) fn render(title: &str, bins: &[Bin], faults: &[Fault], span_ms: f64) -> String {
    let c = Canvas::new(bins, span_ms);
    let mut s = String::new();
    let h = c.height;
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    // Fault windows first: behind everything.
    c.fault_windows(&mut s, faults, span_ms);
    c.legend(&mut s, faults);
    c.axes(&mut s);
    c.throughput(&mut s, bins);
    c.latency(&mut s, bins);
    s.push_str("</svg>\n");
    s
}

/// The picture's geometry: two panels sharing one time axis.
struct Canvas {
    /// Seconds the time axis spans.
    secs: f64,
    plot_w: f64,
    height: f64,
    /// Top of the throughput panel.
    top1: f64,
    /// Top of the latency panel.
    top2: f64,
    /// The throughput axis' full scale (tx/s).
    tps_scale: f64,
    /// The latency axis' range, log10 of ms.
    lo: f64,
    hi: f64,
}

impl Canvas {
    fn new(bins: &[Bin], span_ms: f64) -> Canvas {
        let max_tps = bins.iter().map(|b| b.committed).max().unwrap_or(0).max(1) as f64;
        let max_lat = bins
            .iter()
            .filter_map(|b| b.p99_ms)
            .fold(1_000.0_f64, f64::max);
        Canvas {
            secs: (span_ms / 1e3).max(bins.len() as f64).max(1.0),
            plot_w: W - LEFT - RIGHT,
            height: TOP + 2.0 * PANEL + GAP + 60.0,
            top1: TOP,
            top2: TOP + PANEL + GAP,
            tps_scale: nice(max_tps),
            lo: 10.0_f64.log10(),
            hi: nice(max_lat).log10(),
        }
    }

    /// The x of `s` seconds into the run.
    fn x(&self, s: f64) -> f64 {
        LEFT + (s / self.secs).clamp(0.0, 1.0) * self.plot_w
    }

    /// The y of a latency of `ms` in the latency panel.
    fn y_lat(&self, ms: f64) -> f64 {
        let f = (ms.max(10.0).log10() - self.lo) / (self.hi - self.lo);
        self.top2 + PANEL - f.clamp(0.0, 1.0) * PANEL
    }

    /// Each fault's window shaded across both panels, numbered as in the report.
    fn fault_windows(&self, s: &mut String, faults: &[Fault], span_ms: f64) {
        for (i, f) in faults.iter().enumerate() {
            let x0 = self.x(f.start_ms / 1e3);
            let x1 = self.x(f.end_ms.unwrap_or(span_ms) / 1e3).max(x0 + 1.0);
            for top in [self.top1, self.top2] {
                let _ = writeln!(
                    s,
                    r#"<rect x="{x0:.1}" y="{top}" width="{:.1}" height="{PANEL}" fill="{}" fill-opacity="0.35"><title>{}</title></rect>"#,
                    x1 - x0,
                    colour(&f.kind),
                    escape(&format!("{} {}", f.kind, f.args))
                );
            }
            // The report's fault number, and what it was where it fits (a
            // long run's windows are too narrow for words: the legend and the
            // report's table name them).
            let full = format!("{} {} {}", i + 1, f.kind, f.args);
            let label = if (x1 - x0) >= 5.5 * full.len() as f64 {
                full
            } else {
                (i + 1).to_string()
            };
            let ly = self.top1 - 4.0 - (i % 2) as f64 * 11.0;
            let _ = writeln!(
                s,
                r#"<text x="{x0:.1}" y="{ly}" font-size="9" fill="{}">{}</text>"#,
                colour(&f.kind),
                escape(&label)
            );
        }
    }

    /// A legend of the fault kinds present, along the bottom.
    fn legend(&self, s: &mut String, faults: &[Fault]) {
        let mut kinds: Vec<&str> = faults.iter().map(|f| f.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let mut lx = LEFT;
        for k in kinds {
            let _ = writeln!(
                s,
                r#"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{}" fill-opacity="0.6"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
                self.height - 14.0,
                colour(k),
                lx + 13.0,
                self.height - 5.0,
                escape(k)
            );
            lx += 20.0 + 7.0 * k.len() as f64;
        }
    }

    /// The panels' frames, their grids and tick labels, and the time axis.
    fn axes(&self, s: &mut String) {
        let plot_w = self.plot_w;
        for (top, label) in [
            (self.top1, "committed tx/s"),
            (self.top2, "latency, ms (log)"),
        ] {
            let _ = writeln!(
                s,
                r##"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL}" fill="none" stroke="#444"/>"##
            );
            let _ = writeln!(
                s,
                r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">{label}</text>"#,
                top + PANEL / 2.0,
                top + PANEL / 2.0
            );
        }
        let grid = |s: &mut String, y: f64, v: f64| {
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v:.0}</text>"##,
                W - RIGHT,
                LEFT - 4.0,
                y + 4.0
            );
        };
        for k in 0..=4 {
            let y = self.top1 + PANEL - PANEL * k as f64 / 4.0;
            grid(s, y, self.tps_scale * k as f64 / 4.0);
        }
        let mut ms = 10.0;
        while ms <= 10f64.powf(self.hi) * 1.0001 {
            grid(s, self.y_lat(ms), ms);
            ms *= 10.0;
        }
        let step = tick_step(self.secs);
        let mut t = 0.0;
        while t <= self.secs {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{t:.0}</text>"#,
                self.x(t),
                self.top2 + PANEL + 16.0
            );
            t += step;
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds since the load started</text>"#,
            LEFT + plot_w / 2.0,
            self.top2 + PANEL + 34.0
        );
    }

    /// Committed transactions per second, a bar per second.
    fn throughput(&self, s: &mut String, bins: &[Bin]) {
        let bw = (self.plot_w / self.secs).max(1.0);
        for (i, b) in bins.iter().enumerate() {
            if b.committed == 0 {
                continue;
            }
            let bh = PANEL * (b.committed as f64 / self.tps_scale).min(1.0);
            let _ = writeln!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="#2a9d8f"/>"##,
                self.x(i as f64),
                self.top1 + PANEL - bh,
                (bw - 0.5).max(0.5)
            );
        }
    }

    /// The p50 and p99 latency lines (a gap where nothing committed), with
    /// their legend.
    fn latency(&self, s: &mut String, bins: &[Bin]) {
        for (pick, colour, name) in [(0usize, "#264653", "p50"), (1usize, "#e76f51", "p99")] {
            let mut d = String::new();
            let mut pen_up = true;
            for (i, b) in bins.iter().enumerate() {
                let v = if pick == 0 { b.p50_ms } else { b.p99_ms };
                match v {
                    Some(v) => {
                        let _ = write!(
                            d,
                            "{}{:.1},{:.1} ",
                            if pen_up { "M" } else { "L" },
                            self.x(i as f64 + 0.5),
                            self.y_lat(v)
                        );
                        pen_up = false;
                    }
                    None => pen_up = true,
                }
            }
            if !d.is_empty() {
                let _ = writeln!(
                    s,
                    r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.5"/>"#
                );
            }
            let lx = W - RIGHT - 90.0 + pick as f64 * 45.0;
            let y = self.top2 - 8.0;
            let _ = writeln!(
                s,
                r#"<line x1="{lx}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{name}</text>"#,
                lx + 14.0,
                lx + 17.0,
                self.top2 - 4.0
            );
        }
    }
}

/// The smallest of 1, 2, 5 × 10^k at or above `v`.
fn nice(v: f64) -> f64 {
    let mut p = 1.0;
    loop {
        for m in [1.0, 2.0, 5.0] {
            if m * p >= v {
                return m * p;
            }
        }
        p *= 10.0;
    }
}

fn tick_step(secs: f64) -> f64 {
    nice(secs / 12.0).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_shades_every_fault_and_draws_every_second() {
        let bins = vec![
            Bin {
                committed: 900,
                p50_ms: Some(80.0),
                p99_ms: Some(200.0),
            },
            Bin::default(),
            Bin {
                committed: 1_100,
                p50_ms: Some(2_000.0),
                p99_ms: Some(9_000.0),
            },
        ];
        let faults = vec![Fault {
            kind: "partition".into(),
            args: "0,1 2,3".into(),
            nodes: vec![0, 1, 2, 3],
            keeps_quorum: false,
            start_ms: 900.0,
            end_ms: Some(2_000.0),
        }];
        let svg = render("seed 7 <test>", &bins, &faults, 3_000.0);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("seed 7 &lt;test&gt;"));
        // Two shaded panels for the one fault, and its label.
        assert_eq!(svg.matches("fill-opacity=\"0.35\"").count(), 2);
        assert!(svg.contains(">1 partition 0,1 2,3</text>"));
        // The legend names the kind.
        assert!(svg.contains(">partition</text>"));
        // Two throughput bars (the empty second draws none), two latency paths,
        // the second broken by the empty second.
        assert_eq!(svg.matches("fill=\"#2a9d8f\"").count(), 2);
        assert_eq!(svg.matches("<path d=\"M").count(), 2);
        assert!(svg.contains(" M"), "a gap restarts the line");
    }

    #[test]
    fn nice_rounds_up_to_one_two_five() {
        assert_eq!(nice(1.0), 1.0);
        assert_eq!(nice(1.5), 2.0);
        assert_eq!(nice(3.0), 5.0);
        assert_eq!(nice(1_100.0), 2_000.0);
    }
}
