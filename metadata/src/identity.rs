//! Which Azure managed identity a request names: the same choice for IMDS
//! and for App Service's endpoint, under different parameter names.

use crate::query;

/// Which user-assigned identity to ask for (none: the system-assigned one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Identity {
    System,
    ClientId(String),
    /// The object id, which App Service calls the principal id.
    ObjectId(String),
    ResourceId(String),
}

impl Identity {
    /// Appends `&<name>=<id>` for a user-assigned identity, `names` being
    /// the endpoint's names for the client id, the object id and the
    /// resource id, in that order; nothing for the system-assigned one.
    pub(crate) fn push_query(&self, url: &mut String, names: [&str; 3]) {
        let [client, object, resource] = names;
        let (name, id) = match self {
            Identity::System => return,
            Identity::ClientId(id) => (client, id),
            Identity::ObjectId(id) => (object, id),
            Identity::ResourceId(id) => (resource, id),
        };
        url.push('&');
        url.push_str(name);
        url.push('=');
        query::encode_into(url, id);
    }
}
