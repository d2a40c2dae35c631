//! `--metadata gce|azure`: tokens from a cloud metadata server instead of a
//! token endpoint (freshen-metadata), with no client secret.

use clap::ValueEnum;
use freshen_core::{BlockingTokenSource, Error};
use freshen_metadata::{AzureImds, Gce, MetadataSource};
use freshen_oauth::transport::TransportConfig;
use freshen_ureq::UreqTransport;

use crate::config::{ClientArgs, config_error};

/// Which metadata server to ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum MetadataServer {
    /// GCE's metadata server (GKE, Cloud Run…); GCE_METADATA_HOST is
    /// honoured; --scope and --service-account apply.
    Gce,
    /// Azure IMDS; --resource (exactly one) names the API, --client-id a
    /// user-assigned identity.
    Azure,
}

/// The metadata source `args` describe, checked before any request.
pub(crate) fn source(
    server: MetadataServer,
    args: &ClientArgs,
    transport: TransportConfig,
) -> Result<Box<dyn BlockingTokenSource>, Error> {
    let transport = UreqTransport::with_config(transport);
    let endpoint = args.metadata_endpoint.clone();
    let source = match server {
        MetadataServer::Gce => {
            if args.client_id.is_some() || !args.resources.is_empty() {
                return Err(config_error(
                    "--client-id and --resource do not apply to GCE's metadata server \
                     (use --service-account and --scope)",
                ));
            }
            let mut gce = Gce::new().with_scopes(args.scopes.iter().filter(|s| !s.is_empty()));
            if let Some(account) = &args.service_account {
                gce = gce.with_service_account(account.clone());
            }
            if let Some(host) = endpoint {
                gce = gce.with_host(host);
            }
            MetadataSource::gce(gce, transport)
        }
        MetadataServer::Azure => {
            let [resource] = args.resources.as_slice() else {
                return Err(config_error(
                    "Azure IMDS needs exactly one --resource (the API's App ID URI, \
                     e.g. https://management.azure.com/)",
                ));
            };
            let mut imds = AzureImds::new(resource.clone());
            if let Some(id) = &args.client_id {
                imds = imds.with_client_id(id.clone());
            }
            if let Some(url) = endpoint {
                imds = imds.with_endpoint(url);
            }
            MetadataSource::azure(imds, transport)
        }
    };
    Ok(Box::new(source))
}
