//! Per-name totals of a parsed body: the core's sums, cleaned of summation
//! noise, which the JS functions and the parity example both return.

use pulse_core::Exposition;

/// The sum of sample values per sample name, in first-seen order, as
/// `pulse_core::parse::sample_totals` defines it, cleaned of summation noise.
/// Names borrow from the body.
pub fn sample_totals<'a>(expo: &Exposition<'a>) -> Vec<(&'a str, f64)> {
    cleaned(pulse_core::parse::sample_totals(expo))
}

/// The sum of sample values per family, in first-seen order, as
/// `pulse_core::parse::family_totals` defines it, cleaned of summation noise.
/// Names borrow from the body.
pub fn family_totals<'a>(expo: &Exposition<'a>) -> Vec<(&'a str, f64)> {
    cleaned(pulse_core::parse::family_totals(expo))
}

fn cleaned(mut totals: Vec<(&str, f64)>) -> Vec<(&str, f64)> {
    for entry in &mut totals {
        entry.1 = pulse_core::num::clean(entry.1);
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_totals_sum_histogram_parts_into_their_family() {
        let body = "# TYPE a_total counter\na_total{m=\"x\"} 1.5\na_total{m=\"y\"} 2\n\
                    # TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 4\nh_sum 0.25\nh_count 4\n\
                    # TYPE n gauge\nn NaN\n";
        let expo = pulse_core::parse::parse(body).unwrap();
        assert_eq!(family_totals(&expo), vec![("a_total", 3.5), ("h", 11.25)]);
    }

    #[test]
    fn sample_totals_are_cleaned_of_summation_noise() {
        let body = "a 0.1\na 0.2\nb 1\n";
        let expo = pulse_core::parse::parse(body).unwrap();
        assert_eq!(sample_totals(&expo), vec![("a", 0.3), ("b", 1.0)]);
    }
}
