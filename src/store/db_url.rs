//! Database URLs: dialback's own settings taken out of the query before the
//! driver sees it, and a URL made safe to show.
//!
//! The query is read and rewritten as `application/x-www-form-urlencoded`
//! with `serde_urlencoded` (the `url` crate's own codec, and how both sqlx
//! drivers read it), so a percent-encoded key or value means what the
//! driver would take it to mean.

use super::StoreError;

/// Takes dialback's own `key=N` parameter out of a database URL's query
/// string, so the driver (which rejects or warns about unknown keys) never
/// sees it. Returns the URL without it and the number, if there was one.
pub(super) fn take_count_param(url: &str, key: &str) -> Result<(String, Option<u32>), StoreError> {
    let (url, value) = take_param(url, key)?;
    let n = value
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| config(format!("{key} must be a whole number, not {v:?}")))
        })
        .transpose()?;
    Ok((url, n))
}

/// Takes `key=VALUE` out of the URL's query (the last one wins), for
/// settings of ours that the driver would refuse as unknown. The other
/// parameters keep their order.
pub(super) fn take_param(url: &str, key: &str) -> Result<(String, Option<String>), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let (taken, kept): (Vec<_>, Vec<_>) =
        query_pairs(query)?.into_iter().partition(|(k, _)| k == key);
    let found = taken.into_iter().last().map(|(_, v)| v);
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        let query = serde_urlencoded::to_string(&kept)
            .map_err(|e| config(format!("database URL query: {e}")))?;
        format!("{base}?{query}")
    };
    Ok((url, found))
}

/// Whether the URL's query has `key=value`.
pub(super) fn has_param(url: &str, key: &str, value: &str) -> bool {
    url.split_once('?')
        .and_then(|(_, query)| query_pairs(query).ok())
        .is_some_and(|pairs| pairs.iter().any(|(k, v)| k == key && v == value))
}

fn query_pairs(query: &str) -> Result<Vec<(String, String)>, StoreError> {
    serde_urlencoded::from_str(query).map_err(|e| config(format!("database URL query: {e}")))
}

fn config(message: String) -> StoreError {
    sqlx::Error::Configuration(message.into()).into()
}

/// A URL as it may be logged or shown: any password replaced by `***`.
pub(super) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => match authority[..at].split_once(':') {
            Some((user, _password)) => {
                format!("{scheme}://{user}:***{}", &rest[at..])
            }
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{has_param, redact_url, take_count_param, take_param};

    #[test]
    fn a_pool_size_parameter_is_taken_out_of_the_url() {
        let (url, n) = take_count_param("postgres://h/db?max_connections=7", "max_connections")
            .expect("parses");
        assert_eq!((url.as_str(), n), ("postgres://h/db", Some(7)));

        let (url, n) = take_count_param(
            "postgres://h/db?sslmode=disable&max_connections=3&application_name=x",
            "max_connections",
        )
        .expect("parses");
        assert_eq!(
            (url.as_str(), n),
            (
                "postgres://h/db?sslmode=disable&application_name=x",
                Some(3)
            )
        );

        let (url, n) = take_count_param("sqlite:a.db", "readers").expect("parses");
        assert_eq!((url.as_str(), n), ("sqlite:a.db", None));

        assert!(take_count_param("sqlite:a.db?readers=many", "readers").is_err());
    }

    #[test]
    fn an_encoded_parameter_is_read_as_the_driver_reads_it() {
        let (url, value) =
            take_param("sqlite:a.db?synchr%6Fnous=normal&mode=rwc", "synchronous").expect("parses");
        assert_eq!(
            (url.as_str(), value.as_deref()),
            ("sqlite:a.db?mode=rwc", Some("normal"))
        );

        let (url, value) = take_param(
            "postgres://h/db?options%5Bsearch_path%5D=a%2Cb&readers=2&readers=3",
            "readers",
        )
        .expect("parses");
        assert_eq!(value.as_deref(), Some("3"), "the last one wins");
        assert_eq!(url, "postgres://h/db?options%5Bsearch_path%5D=a%2Cb");

        assert!(has_param(
            "sqlite:x.db?mode=memory&cache=shared",
            "mode",
            "memory"
        ));
        assert!(!has_param("sqlite:x.db?mode=rwc", "mode", "memory"));
        assert!(!has_param("sqlite:mode=memory.db", "mode", "memory"));
    }

    #[test]
    fn a_password_in_a_url_is_never_shown() {
        assert_eq!(
            redact_url("mysql://app:s3cret@db:3306/x"),
            "mysql://app:***@db:3306/x"
        );
        assert_eq!(redact_url("mysql://app@db/x"), "mysql://app@db/x");
        assert_eq!(redact_url("data/dialback.db"), "data/dialback.db");
    }
}
