//! Masking phone numbers for manager-facing output: `+49 ••• ••• 4567`.

use rlibphonenumber::PhoneNumber;

/// Masks a phone number, keeping the country calling code and the last four
/// digits. Input may be E.164, a display form (`+1 415-555-0134`) or bare
/// digits with the country code (`14155550134`, as webhooks send it).
pub fn mask_phone(input: &str) -> String {
    let digits: String = input.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return "•••".to_owned();
    }
    let last4 = &digits[digits.len() - 4..];
    let e164 = format!("+{digits}");
    match e164.parse::<PhoneNumber>() {
        Ok(n) => format!("+{} ••• ••• {last4}", n.country_code),
        Err(_) => format!("••• ••• {last4}"),
    }
}

/// Masks when `mask` is set, otherwise returns the input unchanged.
pub fn phone(input: &str, mask: bool) -> String {
    if mask {
        mask_phone(input)
    } else {
        input.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_country_code_and_last_four() {
        assert_eq!(mask_phone("+49 30 1234 4567"), "+49 ••• ••• 4567");
        assert_eq!(mask_phone("+1 415-555-0134"), "+1 ••• ••• 0134");
        assert_eq!(mask_phone("14155550134"), "+1 ••• ••• 0134");
        assert_eq!(mask_phone("+55 11 95555-0192"), "+55 ••• ••• 0192");
        assert_eq!(mask_phone("12"), "•••");
        assert_eq!(phone("+1 415-555-0134", false), "+1 415-555-0134");
    }
}
