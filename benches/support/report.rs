//! Report rows of `idemlog bench`: a target and whether it is met, one line of
//! JSON or of the readable table per row.
//!
//! JSON (one object per line):
//! `{"workload", "engine_rps", "peer", "peer_rps", "ratio", "met", "note"}` for a
//! comparison (`met` is `null` for a limit, which has no target) and
//! `{"workload", "bytes", "met", "note"}` for a memory figure.

/// A printed row: JSON for `--json`, else a line of the table.
pub(crate) trait Printed {
    /// One JSON object.
    fn json(&self) -> String;
    /// One line of the table.
    fn table_line(&self) -> String;

    /// The row as JSON or as a table line.
    fn line(&self, json: bool) -> String {
        if json {
            self.json()
        } else {
            self.table_line()
        }
    }
}

/// What a comparison must reach: a ratio engine/peer and/or an engine rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Target {
    /// Least engine/peer ratio.
    pub min_ratio: Option<f64>,
    /// Least engine records per second.
    pub min_rps: Option<f64>,
}

impl Target {
    /// No target (a limit, reported for scale).
    pub(crate) const NONE: Self = Self {
        min_ratio: None,
        min_rps: None,
    };

    /// At least `min` times the peer.
    pub(crate) const fn ratio(min: f64) -> Self {
        Self {
            min_ratio: Some(min),
            min_rps: None,
        }
    }

    /// And at least `rps` records per second.
    pub(crate) const fn and_rps(mut self, rps: f64) -> Self {
        self.min_rps = Some(rps);
        self
    }

    /// `">= 2x"`, `">= 1x and >= 200 M/s"`, or `"-"` (none: a limit, or a
    /// figure reported for reference).
    pub(crate) fn text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(ratio) = self.min_ratio {
            parts.push(format!(">= {ratio}x"));
        }
        if let Some(rps) = self.min_rps {
            parts.push(format!(">= {} M/s", rps / 1e6));
        }
        if parts.is_empty() {
            "-".to_string()
        } else {
            parts.join(" and ")
        }
    }

    /// Whether `engine_rps` (and its ratio to `peer_rps`) meets the target;
    /// `None` without one.
    pub(crate) fn met(&self, engine_rps: f64, peer_rps: f64) -> Option<bool> {
        if *self == Self::NONE {
            return None;
        }
        let ratio = engine_rps / peer_rps;
        Some(
            self.min_ratio.is_none_or(|min| ratio >= min)
                && self.min_rps.is_none_or(|min| engine_rps >= min),
        )
    }
}

/// The engine beside one peer or limit.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// The workload id of the target table.
    pub workload: String,
    /// Engine median records per second.
    pub engine_rps: f64,
    /// The peer's or limit's name.
    pub peer: String,
    /// Its median records (operations) per second.
    pub peer_rps: f64,
    /// The target.
    pub target: Target,
    /// How it was measured.
    pub note: String,
}

impl Row {
    /// Engine / peer.
    pub(crate) fn ratio(&self) -> f64 {
        self.engine_rps / self.peer_rps
    }

    /// Whether the target is met (`None`: no target).
    pub(crate) fn met(&self) -> Option<bool> {
        self.target.met(self.engine_rps, self.peer_rps)
    }

    /// The table's column titles, aligned with [`Row::table_line`].
    pub(crate) fn table_header() -> String {
        format!(
            "{:<28} {:>8} {:<20} {:>8} {:>7}  {:<22} {:<7} note",
            "workload", "M/s", "peer", "M/s", "ratio", "target", "met"
        )
    }
}

impl Printed for Row {
    /// One JSON object.
    fn json(&self) -> String {
        format!(
            "{{\"workload\": {}, \"engine_rps\": {}, \"peer\": {}, \"peer_rps\": {}, \"ratio\": {}, \"met\": {}, \"note\": {}}}",
            json_string(&self.workload),
            json_number(self.engine_rps),
            json_string(&self.peer),
            json_number(self.peer_rps),
            json_number(self.ratio()),
            json_bool(self.met()),
            json_string(&format!("target {}; {}", self.target.text(), self.note)),
        )
    }

    /// One line of the table.
    fn table_line(&self) -> String {
        format!(
            "{:<28} {:>8.1} {:<20} {:>8.1} {:>7.2}  {:<22} {:<7} {}",
            self.workload,
            self.engine_rps / 1e6,
            self.peer,
            self.peer_rps / 1e6,
            self.ratio(),
            self.target.text(),
            verdict(self.met()),
            self.note
        )
    }
}

/// A memory figure.
#[derive(Clone, Debug)]
pub(crate) struct MemoryRow {
    /// The workload id of the target table (`memory-...`).
    pub workload: &'static str,
    /// Bytes (`None`: nothing could be measured).
    pub bytes: Option<f64>,
    /// Whether the target is met.
    pub met: bool,
    /// The target and how the figure was measured.
    pub note: String,
}

impl Printed for MemoryRow {
    /// One JSON object.
    fn json(&self) -> String {
        format!(
            "{{\"workload\": {}, \"bytes\": {}, \"met\": {}, \"note\": {}}}",
            json_string(self.workload),
            self.bytes.map_or("null".to_string(), json_number),
            json_bool(Some(self.met)),
            json_string(&self.note),
        )
    }

    /// One line of the table.
    fn table_line(&self) -> String {
        let bytes = self
            .bytes
            .map_or("-".to_string(), |bytes| format!("{bytes:.1} B"));
        format!(
            "{:<28} {:>10}  {:<7} {}",
            self.workload,
            bytes,
            verdict(Some(self.met)),
            self.note
        )
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "MET",
        Some(false) => "NOT MET",
        None => "",
    }
}

/// `text` as a JSON string literal.
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `value` as a JSON number (`null` if not finite).
pub(crate) fn json_number(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.4}")
    } else {
        "null".to_string()
    }
}

fn json_bool(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "true",
        Some(false) => "false",
        None => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_judge_ratio_and_rate() {
        let both = Target::ratio(2.0).and_rps(100.0);
        assert_eq!(both.met(150.0, 60.0), Some(true));
        assert_eq!(both.met(50.0, 20.0), Some(false));
        assert_eq!(both.met(150.0, 100.0), Some(false));
        assert_eq!(Target::NONE.met(1.0, 1.0), None);
        assert_eq!(both.text(), ">= 2x and >= 0.0001 M/s");
    }

    #[test]
    fn json_rows_have_exactly_the_documented_fields() {
        let row = Row {
            workload: "append-p1-64B-b1".to_string(),
            engine_rps: 2.0,
            peer: "naive-prototype".to_string(),
            peer_rps: 4.0,
            target: Target::ratio(0.5),
            note: "n\"".to_string(),
        };
        assert_eq!(
            row.json(),
            "{\"workload\": \"append-p1-64B-b1\", \"engine_rps\": 2.0000, \"peer\": \"naive-prototype\", \"peer_rps\": 4.0000, \"ratio\": 0.5000, \"met\": true, \"note\": \"target >= 0.5x; n\\\"\"}"
        );
        let memory = MemoryRow {
            workload: "memory-budget",
            bytes: None,
            met: false,
            note: String::new(),
        };
        assert_eq!(
            memory.json(),
            "{\"workload\": \"memory-budget\", \"bytes\": null, \"met\": false, \"note\": \"\"}"
        );
        assert_eq!(json_string("a\\b\n"), "\"a\\\\b\\u000a\"");
        assert_eq!(json_number(f64::NAN), "null");
    }
}
