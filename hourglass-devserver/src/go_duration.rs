//! Durations as Temporal writes them in text: Go's `time.ParseDuration` syntax with
//! Temporal's `d` (days) extension (`timestamp.ParseDuration`).

/// A Go duration (`1h30m`, `90s`, `500ms`) or Temporal's days extension (`2d`), in ms.
pub(crate) fn parse_ms(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid duration \"{s}\"");
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..n].parse().map_err(|_| bad())?;
        let unit_len = rest[n..]
            .find(|ch: char| ch.is_ascii_digit() || ch == '.')
            .unwrap_or(rest.len() - n);
        let ms = match &rest[n..n + unit_len] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3600e3,
            "d" => 86_400e3,
            _ => return Err(bad()),
        };
        total += value * ms;
        rest = &rest[n + unit_len..];
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

    #[test]
    fn go_durations_with_days() {
        assert_eq!(parse_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_ms("500ms"), Ok(500));
        assert_eq!(parse_ms("2d"), Ok(172_800_000));
        assert_eq!(parse_ms("1.5s"), Ok(1_500));
        for bad in ["", "5", "5x", "h"] {
            assert!(
                parse_ms(bad).unwrap_err().contains("invalid duration"),
                "{bad}"
            );
        }
    }
}
