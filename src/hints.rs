//! What to do next, printed after errors a user can fix themselves.

/// After Azure refused or found no credential (exit 3).
pub const LOGIN: &str = "\
hint: aib signs in with the first Azure credential that works, in this order: a service principal
      in the environment (AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET), workload
      identity (AZURE_FEDERATED_TOKEN_FILE), GitHub Actions OIDC (`permissions: id-token: write`
      with AZURE_TENANT_ID and AZURE_CLIENT_ID), a managed identity, the Azure CLI, Azure
      Pipelines; AIB_CREDENTIAL=env|workload-identity|github-actions|managed-identity|azure-cli|
      azure-pipelines picks one.
      On your machine run `az login` (and `az account set -s <subscription>`); in CI see README's
      \"Using real Azure\". To try aib without Azure, add --simulate.";

/// Prints [`LOGIN`] to stderr.
pub fn login() {
    eprintln!("{LOGIN}");
}
