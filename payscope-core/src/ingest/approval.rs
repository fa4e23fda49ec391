//! Whether an authorization was approved, in each convention reports use: ISO 8583 response
//! codes (`00`), ISO 8583:1993 three-digit action codes (`000`–`099` approve), processor
//! reason codes where `100` is the approval (Chase Paymentech/Orbital, CyberSource), status
//! words in several languages, a description beside the code (`Approved`, `Do Not Honor`), or
//! an error column that is empty when nothing went wrong.

use crate::facts::response_code_is_approved;

/// How a response-code column writes an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Convention {
    /// ISO 8583 two-character codes (`00`, `05`, `51`) and words (`A`, `approved`).
    Iso,
    /// ISO 8583:1993 action codes: `000`–`099` approve, `100` and above decline.
    ActionCodes,
    /// Processor reason codes: `100` approves, anything else declines.
    Processor100,
}

impl Convention {
    /// The convention a column's sample values follow: three-digit codes with `100` and no
    /// `000` are processor reason codes; three-digit codes with `000` are action codes.
    pub fn detect<'a>(values: impl IntoIterator<Item = &'a str>) -> Convention {
        let (mut three, mut other, mut has_000, mut has_100) = (0, 0, false, false);
        for v in values {
            let v = v.trim();
            if v.len() == 3 && v.bytes().all(|b| b.is_ascii_digit()) {
                three += 1;
                has_000 |= v == "000";
                has_100 |= v == "100";
            } else if !v.is_empty() {
                other += 1;
            }
        }
        match (three > other, has_000, has_100) {
            (true, false, true) => Convention::Processor100,
            (true, true, _) => Convention::ActionCodes,
            _ => Convention::Iso,
        }
    }

    /// The name recorded in the mapping.
    pub fn as_str(self) -> &'static str {
        match self {
            Convention::Iso => "ISO 8583 response codes (00 approves)",
            Convention::ActionCodes => "ISO 8583:1993 action codes (000-099 approve)",
            Convention::Processor100 => "processor reason codes (100 approves)",
        }
    }

    /// True when `code` approves.
    pub fn approves(self, code: &str) -> bool {
        let c = code.trim();
        match self {
            Convention::Iso => response_code_is_approved(c),
            Convention::ActionCodes => {
                c.len() == 3 && c.starts_with('0') && c.bytes().all(|b| b.is_ascii_digit())
                    || response_code_is_approved(c)
            }
            Convention::Processor100 => c == "100" || status_word(c) == Some(true),
        }
    }
}

const APPROVED: &[&str] = &[
    "approved",
    "approve",
    "approval",
    "authorised",
    "authorized",
    "authorise",
    "authorize",
    "success",
    "successful",
    "succeeded",
    "accepted",
    "ok",
    "a",
    "y",
    "yes",
    "true",
    "1",
    "aprobada",
    "aprobado",
    "autorizada",
    "autorizado",
    "aceptada",
    "aceptado",
    "approuve",
    "approuvee",
    "accepte",
    "acceptee",
    "autorise",
    "autorisee",
    "genehmigt",
    "autorisiert",
    "akzeptiert",
    "erfolgreich",
    "aprovada",
    "aprovado",
    "approvato",
    "approvata",
    "autorizzato",
    "autorizzata",
    "accettato",
    "accettata",
    "positivo",
];

const DECLINED: &[&str] = &[
    "declined",
    "decline",
    "denied",
    "rejected",
    "refused",
    "failed",
    "failure",
    "error",
    "d",
    "n",
    "no",
    "false",
    "0",
    "rechazada",
    "rechazado",
    "denegada",
    "denegado",
    "declinada",
    "refuse",
    "refusee",
    "rejete",
    "rejetee",
    "abgelehnt",
    "verweigert",
    "fehlgeschlagen",
    "recusada",
    "recusado",
    "negada",
    "negado",
    "rifiutato",
    "rifiutata",
    "negato",
    "negata",
    "declinato",
    "respinto",
    "negativo",
];

/// Reads an approval word (`approved`, `Authorised`, `declined`, `Refused`, `aprobada`,
/// `abgelehnt`, `A`, `D`, `Y`, `N`).
pub(crate) fn status_word(text: &str) -> Option<bool> {
    let t = super::vocabulary::fold(text.trim());
    if APPROVED.contains(&t.as_str()) {
        Some(true)
    } else if DECLINED.contains(&t.as_str()) {
        Some(false)
    } else {
        None
    }
}

const COMPLETED: &[&str] = &[
    "completed",
    "complete",
    "settled",
    "paid",
    "succeeded",
    "success",
    "successful",
    "captured",
    "cleared",
    "posted",
    "booked",
    "done",
    "processed",
    "available",
    "completado",
    "completada",
    "termine",
    "effectue",
    "abgeschlossen",
    "concluido",
    "concluida",
    "completato",
];

const NOT_COMPLETED: &[&str] = &[
    "pending",
    "processing",
    "failed",
    "failure",
    "cancelled",
    "canceled",
    "denied",
    "declined",
    "rejected",
    "expired",
    "voided",
    "void",
    "held",
    "onhold",
    "blocked",
    "reversed",
    "error",
    "pendiente",
    "en attente",
    "ausstehend",
    "pendente",
    "in attesa",
];

/// Reads a lifecycle status (`Completed`, `Pending`, `Denied`): `Some(true)` when the row
/// completed, `Some(false)` when it did not.
pub(crate) fn lifecycle_word(text: &str) -> Option<bool> {
    let t = super::vocabulary::fold(text.trim());
    if COMPLETED.contains(&t.as_str()) {
        Some(true)
    } else if NOT_COMPLETED.contains(&t.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// True when a response description says the authorization was approved (`Approved`,
/// `Approved - partial`), false for anything else (`Do Not Honor`, `No Reason to Decline`,
/// `Not approved`, `Over Frequency Limit`).
pub(crate) fn description_approves(text: &str) -> bool {
    let folded = super::vocabulary::fold(text);
    let words: Vec<&str> = folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let negated = words.iter().any(|w| matches!(*w, "not" | "non" | "no" | "nicht" | "nao" | "ne" | "pas"));
    !negated && words.iter().any(|w| APPROVED.contains(w) && w.len() > 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions() {
        assert_eq!(Convention::detect(["100", "100", "104", "530"]), Convention::Processor100);
        assert_eq!(Convention::detect(["000", "100", "116"]), Convention::ActionCodes);
        assert_eq!(Convention::detect(["00", "05", "51"]), Convention::Iso);
        assert!(Convention::Processor100.approves("100") && !Convention::Processor100.approves("104"));
        assert!(Convention::ActionCodes.approves("001") && !Convention::ActionCodes.approves("100"));
        assert!(Convention::Iso.approves("00") && !Convention::Iso.approves("05"));
    }

    #[test]
    fn words_and_descriptions() {
        assert_eq!(status_word("Authorised"), Some(true));
        assert_eq!(status_word("Refused"), Some(false));
        assert_eq!(status_word("Aprobada"), Some(true));
        assert_eq!(status_word("abgelehnt"), Some(false));
        assert_eq!(status_word("Completed"), None);
        assert_eq!(lifecycle_word("Completed"), Some(true));
        assert_eq!(lifecycle_word("Pending"), Some(false));
        assert!(description_approves("Approved"));
        assert!(!description_approves("No Reason to Decline"));
        assert!(!description_approves("Not Approved"));
        assert!(!description_approves("Over Frequency Limit"));
    }
}
