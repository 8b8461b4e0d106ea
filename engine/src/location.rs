//! Where a graph lives and how to reach it: a local path, a `file://` or
//! `file-object-store://` URI, or `s3://bucket/prefix` on any S3-compatible
//! store.
//!
//! An S3 root takes its settings from the standard `AWS_*` variables and
//! from storage options (`stampede --storage-option KEY=VALUE`, or
//! `ObjectStoreParams`), the options winning, as Lance merges them. When an
//! endpoint is given, the region and static keys must be given too: then
//! nothing asks an instance-metadata service, a profile, or any host but
//! the endpoint. Every missing or wrong setting is a typed error naming it,
//! raised before any request.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use lance::io::{ObjectStoreParams, StorageOptionsAccessor};
use object_store::aws::AmazonS3ConfigKey;
use object_store::ClientConfigKey;

use crate::error::{Error, Result};

/// Stampede's own setting, on any root: how long a claim holds when its
/// holder says nothing more (`crate::claims`), in seconds.
pub use crate::claims::CLAIM_LEASE_OPTION;

/// Check a setting of Stampede's own; `None` when `key` is not one.
fn own_option(key: &str, value: &str) -> Option<Result<()>> {
    (key == CLAIM_LEASE_OPTION).then(|| match crate::claims::parse_lease(value) {
        Some(_) => Ok(()),
        None => Err(Error::InvalidStorageOption {
            option: key.into(),
            why: format!("{value:?} is not a positive number of seconds"),
        }),
    })
}

/// The schemes a root may have.
const SCHEMES: &[&str] = &["file", "file-object-store", "s3"];

/// A root as Lance wants it: a local path made absolute; any URI with no
/// trailing `/`.
pub fn root_uri(root: &str) -> String {
    if root.contains("://") {
        return root.trim_end_matches('/').to_string();
    }
    let path = std::path::absolute(root).unwrap_or_else(|_| root.into());
    path.to_string_lossy().trim_end_matches('/').to_string()
}

/// A root as Lance wants it (a local path made absolute, no trailing
/// `/`), with `params` completed for its store; refused with a typed
/// error naming the input when it cannot be reached as given.
pub fn resolve(root: &str, params: ObjectStoreParams) -> Result<(String, ObjectStoreParams)> {
    let uri = root_uri(root);
    let Some((scheme, rest)) = root.split_once("://") else {
        refuse_options(root, &params)?;
        return Ok((uri, params));
    };
    match scheme {
        "s3" => {
            let bucket = rest.split('/').next().unwrap_or_default();
            if bucket.is_empty() {
                return Err(Error::InvalidRoot {
                    root: root.into(),
                    why: "an s3:// root names its bucket: s3://BUCKET/PREFIX".into(),
                });
            }
            let env: Vec<(String, String)> = std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect();
            let options = s3_options(&params, &env)?;
            Ok((uri, with_storage_options(params, options)))
        }
        _ if SCHEMES.contains(&scheme) => {
            refuse_options(root, &params)?;
            Ok((uri, params))
        }
        _ => Err(Error::InvalidRoot {
            root: root.into(),
            why: format!(
                "unsupported scheme {scheme:?}: a root is a local path or a {} URI",
                SCHEMES
                    .iter()
                    .map(|s| format!("{s}://"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// `params` carrying `options` as its storage options (replacing any).
pub fn with_storage_options(
    params: ObjectStoreParams,
    options: HashMap<String, String>,
) -> ObjectStoreParams {
    ObjectStoreParams {
        storage_options_accessor: Some(Arc::new(StorageOptionsAccessor::with_static_options(
            options,
        ))),
        ..params
    }
}

/// Parse `KEY=VALUE` as the command line gives a storage option.
pub fn parse_storage_option(pair: &str) -> Result<(String, String)> {
    match pair.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(Error::InvalidStorageOption {
            option: pair.into(),
            why: "a storage option is KEY=VALUE (e.g. aws_endpoint=http://127.0.0.1:8333)".into(),
        }),
    }
}

/// A local root takes Stampede's own settings only.
fn refuse_options(root: &str, params: &ObjectStoreParams) -> Result<()> {
    let mut options: Vec<_> = params.storage_options().into_iter().flatten().collect();
    options.sort();
    for (key, value) in options {
        match own_option(key, value) {
            Some(checked) => checked?,
            None => {
                return Err(Error::InvalidStorageOption {
                    option: key.clone(),
                    why: format!("storage options are for s3:// roots; {root:?} is not one"),
                })
            }
        }
    }
    Ok(())
}

/// The explicit options, checked, completed from the environment where
/// they are silent, and checked again as a whole.
fn s3_options(
    params: &ObjectStoreParams,
    env: &[(String, String)],
) -> Result<HashMap<String, String>> {
    // Each setting once, by what it means: explicit spellings first.
    let mut settings: HashMap<AmazonS3ConfigKey, (String, String)> = HashMap::new();
    let mut own = HashMap::new();
    for (key, value) in params.storage_options().into_iter().flatten() {
        if let Some(checked) = own_option(key, value) {
            checked?;
            own.insert(key.clone(), value.clone());
            continue;
        }
        let setting = canonical(key).ok_or_else(|| Error::InvalidStorageOption {
            option: key.clone(),
            why: "not an S3 setting (aws_endpoint, aws_region, aws_access_key_id, \
                  aws_secret_access_key, aws_session_token, allow_http, ...)"
                .into(),
        })?;
        settings.insert(setting, (key.clone(), value.clone()));
    }
    for (key, value) in env {
        let key = key.to_ascii_lowercase();
        if let Some(setting) = key.starts_with("aws_").then(|| canonical(&key)).flatten() {
            settings.entry(setting).or_insert((key, value.clone()));
        }
    }
    // Lance reads only `region` for a custom endpoint; a default region
    // stands in for it rather than sending Lance to look for one.
    if let Some((_, region)) = settings.get(&AmazonS3ConfigKey::DefaultRegion).cloned() {
        settings
            .entry(AmazonS3ConfigKey::Region)
            .or_insert(("aws_region".into(), region));
    }
    let get = |setting: AmazonS3ConfigKey| settings.get(&setting).map(|(_, v)| v.as_str());
    if let Some(endpoint) = get(AmazonS3ConfigKey::Endpoint) {
        check_endpoint(endpoint, &get, env)?;
    }
    // With no endpoint it is a real AWS bucket: Lance's credential chain
    // applies, as for any AWS tool.
    Ok(settings.into_values().chain(own).collect())
}

/// A custom endpoint's settings: a URL Lance can reach, and every setting
/// Lance would otherwise look for elsewhere.
fn check_endpoint<'a>(
    endpoint: &str,
    get: &impl Fn(AmazonS3ConfigKey) -> Option<&'a str>,
    env: &[(String, String)],
) -> Result<()> {
    let url = url::Url::parse(endpoint).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    });
    let Some(url) = url else {
        return Err(Error::InvalidStorageOption {
            option: "aws_endpoint".into(),
            why: format!("{endpoint:?} is not an http:// or https:// URL"),
        });
    };
    let allow_http = get(AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp))
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    if url.scheme() == "http" && !allow_http {
        return Err(Error::InvalidStorageOption {
            option: "allow_http".into(),
            why: format!("the endpoint {endpoint} is plain http: set allow_http=true to use it"),
        });
    }
    for (setting, name) in [
        (AmazonS3ConfigKey::Region, "aws_region"),
        (AmazonS3ConfigKey::AccessKeyId, "aws_access_key_id"),
        (AmazonS3ConfigKey::SecretAccessKey, "aws_secret_access_key"),
    ] {
        if get(setting).is_none() {
            return Err(Error::InvalidStorageOption {
                option: name.into(),
                why: format!(
                    "the endpoint {endpoint} is given, so {name} must be too (a storage option \
                     or {}): Stampede never looks for it anywhere else",
                    name.to_ascii_uppercase()
                ),
            });
        }
    }
    if env.iter().any(|(k, _)| k == "AWS_PROFILE") {
        return Err(Error::InvalidStorageOption {
            option: "AWS_PROFILE".into(),
            why: "an endpoint and static keys are given, and Lance would read the profile \
                  too: unset AWS_PROFILE"
                .into(),
        });
    }
    Ok(())
}

/// The S3 setting a key names, in any of its spellings.
fn canonical(key: &str) -> Option<AmazonS3ConfigKey> {
    let key = key.to_ascii_lowercase();
    AmazonS3ConfigKey::from_str(&key).ok().or_else(|| {
        ClientConfigKey::from_str(&key)
            .ok()
            .map(AmazonS3ConfigKey::Client)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn params(options: &[(&str, &str)]) -> ObjectStoreParams {
        let options = options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        with_storage_options(ObjectStoreParams::default(), options)
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const SERVER: &[(&str, &str)] = &[
        ("aws_endpoint", "http://127.0.0.1:8333"),
        ("aws_region", "us-east-1"),
        ("aws_access_key_id", "k"),
        ("aws_secret_access_key", "s"),
        ("allow_http", "true"),
    ];

    /// The option a refusal names, or "" when it was accepted.
    fn refused_option(options: &[(&str, &str)], vars: &[(&str, &str)]) -> String {
        match s3_options(&params(options), &env(vars)) {
            Ok(_) => String::new(),
            Err(Error::InvalidStorageOption { option, .. }) => option,
            Err(other) => panic!("not a storage-option refusal: {other:?}"),
        }
    }

    #[test]
    fn a_complete_endpoint_setting_is_accepted_from_options_or_environment() {
        assert_eq!(refused_option(SERVER, &[]), "");
        let vars: Vec<(String, String)> = SERVER
            .iter()
            .map(|(k, v)| {
                let k = k.to_uppercase();
                (
                    if k.starts_with("AWS_") {
                        k
                    } else {
                        format!("AWS_{k}")
                    },
                    v.to_string(),
                )
            })
            .collect();
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(refused_option(&[], &vars), "");
        // AWS_DEFAULT_REGION stands in for the region.
        let without_region: Vec<_> = SERVER
            .iter()
            .copied()
            .filter(|(k, _)| *k != "aws_region")
            .collect();
        assert_eq!(
            refused_option(&without_region, &[("AWS_DEFAULT_REGION", "eu-west-1")]),
            ""
        );
        // Explicit options win over the environment.
        let merged = s3_options(&params(SERVER), &env(&[("AWS_REGION", "elsewhere")])).unwrap();
        assert_eq!(
            merged.get("aws_region").map(String::as_str),
            Some("us-east-1")
        );
    }

    #[test]
    fn each_missing_or_wrong_setting_is_named() {
        for missing in [
            "aws_region",
            "aws_access_key_id",
            "aws_secret_access_key",
            "allow_http",
        ] {
            let options: Vec<_> = SERVER
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            assert_eq!(refused_option(&options, &[]), missing);
        }
        let mut bad = SERVER.to_vec();
        bad[0] = ("aws_endpoint", "127.0.0.1:8333");
        assert_eq!(refused_option(&bad, &[]), "aws_endpoint");
        let mut unknown = SERVER.to_vec();
        unknown.push(("aws_endpiont", "x"));
        assert_eq!(refused_option(&unknown, &[]), "aws_endpiont");
        assert_eq!(
            refused_option(SERVER, &[("AWS_PROFILE", "dev")]),
            "AWS_PROFILE"
        );
        for (lease, refused) in [
            ("2.5", ""),
            ("0", CLAIM_LEASE_OPTION),
            ("soon", CLAIM_LEASE_OPTION),
        ] {
            let mut options = SERVER.to_vec();
            options.push((CLAIM_LEASE_OPTION, lease));
            assert_eq!(refused_option(&options, &[]), refused, "lease {lease:?}");
        }
        // No endpoint: a real AWS bucket, left to Lance's credential chain.
        assert_eq!(refused_option(&[], &[]), "");
    }

    #[test]
    fn roots_are_checked_before_any_request() {
        let kind = |root: &str, options: &[(&str, &str)]| {
            resolve(root, params(options))
                .map(|_| ())
                .map_err(|e| e.kind())
        };
        assert_eq!(kind("s3:///prefix", SERVER), Err(ErrorKind::InvalidRoot));
        assert_eq!(kind("gs://bucket/g", &[]), Err(ErrorKind::InvalidRoot));
        assert_eq!(kind("/tmp/g", SERVER), Err(ErrorKind::InvalidStorageOption));
        assert_eq!(
            kind("file:///tmp/g", SERVER),
            Err(ErrorKind::InvalidStorageOption)
        );
        assert_eq!(kind("s3://bucket/g", SERVER), Ok(()));
        assert_eq!(kind("/tmp/g", &[]), Ok(()));
        // Stampede's own setting holds on any root, and is checked there.
        assert_eq!(kind("/tmp/g", &[(CLAIM_LEASE_OPTION, "2")]), Ok(()));
        assert_eq!(
            kind("/tmp/g", &[(CLAIM_LEASE_OPTION, "-1")]),
            Err(ErrorKind::InvalidStorageOption)
        );
    }
}
