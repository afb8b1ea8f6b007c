//! Vaccinations as CSV, the way vaccination sites export them: one row per dose or recorded
//! contraindication (docs/IMPORT.md, "Vaccinations as CSV"). The file rules are
//! [`crate::csv_file`]'s; this module owns the columns and the spellings of events and
//! vaccine products.

use std::io::Read;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use healthcode_domain::VaccinationKind;

use crate::csv_file::{Column, CsvRecords, DOCUMENT_NUMBER, DOCUMENT_TYPE, Layout, Row};
use crate::error::{FileError, Problem};
use crate::record::RecordBody;
use crate::values;

static LAYOUT: Layout = Layout {
    columns: &[
        Column::required("record_id", &["record_id", "记录编号", "接种编号"]),
        DOCUMENT_TYPE,
        DOCUMENT_NUMBER,
        Column::required("vaccinated_at", &["vaccinated_at", "at", "接种时间"]),
        Column::required("dose_number", &["dose_number", "dose", "剂次"]),
        Column::required("product", &["product", "疫苗", "疫苗产品"]),
        // Most exports hold doses only; a site that also records contraindications adds it.
        Column::optional("event", &["event", "事件"]),
    ],
    body,
};

/// Opens a CSV file of vaccinations. Times without an offset are local to `tz`; vaccinations
/// after `now` (beyond a few minutes of clock skew) are refused. This is [`crate::open`]'s CSV
/// branch, for callers whose reader is not `Send`.
pub fn read_vaccinations<R: Read>(
    input: R,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<CsvRecords<R>, FileError> {
    CsvRecords::open(input, &LAYOUT, tz, now)
}

fn body(row: &Row<'_>) -> Result<RecordBody, Problem> {
    let kind = match row.text("event")?.to_lowercase().as_str() {
        "" | "dose" | "接种" => dose(row)?,
        // A contraindication has no dose: whatever the dose columns say is not read.
        "contraindication" | "禁忌" => VaccinationKind::Contraindication,
        _ => {
            return Err(Problem::new(
                "event_unknown",
                "event must be dose or contraindication (接种 or 禁忌); empty means a dose",
            ));
        }
    };
    let at = row.time("vaccinated_at")?;
    values::not_in_future(at, row.now)?;
    Ok(RecordBody::Vaccination { kind, at })
}

fn dose(row: &Row<'_>) -> Result<VaccinationKind, Problem> {
    let number = values::dose_number(row.text("dose_number")?.parse().ok())?;
    let product = product(row.text("product")?)?;
    Ok(VaccinationKind::Dose { number, product })
}

/// The policy's product code for what a site wrote: the code itself, a CVX number, or the
/// maker's name as Chinese records commonly give it. Whether the policy knows the code is the
/// caller's check.
fn product(raw: &str) -> Result<String, Problem> {
    if raw.is_empty() {
        return Err(Problem::new(
            "vaccine_product_missing",
            "a dose needs its product (a product code such as sinopharm-bibp, or a CVX code)",
        ));
    }
    let known = values::cvx_product(raw).or(match raw {
        "北京生物" | "国药北京" => Some("sinopharm-bibp"),
        "科兴" => Some("sinovac-coronavac"),
        "武汉生物" | "国药武汉" => Some("sinopharm-wibp"),
        "康希诺" => Some("cansino-ad5"),
        "智飞" => Some("zifivax-zf2001"),
        _ => None,
    });
    Ok(known.map_or_else(|| raw.to_lowercase(), str::to_owned))
}
