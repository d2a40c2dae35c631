//! `--metadata gce|azure|azure-app-service`: tokens from a cloud metadata
//! server instead of a token endpoint (freshen-metadata), with no client
//! secret.

use clap::ValueEnum;
use freshen_core::{BlockingTokenSource, Error};
use freshen_metadata::{AzureAppService, AzureImds, Gce, MetadataSource};
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
    /// The identity endpoint of Azure App Service, Functions and Container
    /// Apps: IDENTITY_ENDPOINT and IDENTITY_HEADER from the environment (as
    /// the platform sets them); --resource and --client-id as for IMDS.
    AzureAppService,
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
            let resource = one_resource(args, "Azure IMDS")?;
            let mut imds = AzureImds::new(resource.clone());
            if let Some(id) = &args.client_id {
                imds = imds.with_client_id(id.clone());
            }
            if let Some(url) = endpoint {
                imds = imds.with_endpoint(url);
            }
            MetadataSource::azure(imds, transport)
        }
        MetadataServer::AzureAppService => {
            let resource = one_resource(args, "Azure App Service's identity endpoint")?;
            // --metadata-endpoint stands in for IDENTITY_ENDPOINT; the
            // secret comes from IDENTITY_HEADER either way.
            let mut app = match endpoint {
                None => AzureAppService::from_env(resource.clone())?,
                Some(url) => {
                    let name = freshen_metadata::app_service::IDENTITY_HEADER_ENV;
                    let secret = std::env::var(name)
                        .ok()
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| config_error(format!("{name} is not set")))?;
                    AzureAppService::new(url, secret, resource.clone())
                }
            };
            if let Some(id) = &args.client_id {
                app = app.with_client_id(id.clone());
            }
            MetadataSource::azure_app_service(app, transport)
        }
    };
    Ok(Box::new(source))
}

/// The one `--resource` an Azure identity endpoint needs.
fn one_resource<'a>(args: &'a ClientArgs, server: &str) -> Result<&'a String, Error> {
    match args.resources.as_slice() {
        [resource] => Ok(resource),
        _ => Err(config_error(format!(
            "{server} needs exactly one --resource (the API's App ID URI, \
             e.g. https://management.azure.com/)"
        ))),
    }
}
