// tenantsync in one resource group: a Flex Consumption function app (custom
// handler) fed by a Service Bus queue, its state in Table Storage, monitoring,
// three user-assigned managed identities, one per power (runtime: storage,
// Service Bus, telemetry; Graph: only the subject of the Graph app's
// federated credential; deployment: only the package container), the
// multi-tenant Graph app whose federated credential trusts the Graph
// identity (no secrets), and the operator app that App Service
// authentication signs operators in with before the status page.
//
// Deployed by `azd up` (azure.yaml at the repository root). Neither azd nor the
// Bicep compiler runs in this repository's CI: internal/deploycheck checks the
// files structurally (parameters, module paths and parameters, outputs, app
// settings against internal/settings). See docs/deploy.md.
//
// Subscription scope with a resource group named from the azd environment, as
// the azd Functions quickstarts do:
// https://github.com/Azure-Samples/functions-quickstart-dotnet-azd/blob/main/infra/main.bicep
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment (AZURE_ENV_NAME): names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource. It must offer the Flex Consumption plan: az functionapp list-flexconsumption-locations.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person running azd (AZURE_PRINCIPAL_ID). Gets Storage Table Data Contributor and Service Bus Data Sender/Receiver so that operator commands (status, deletions, dlq) work from a workstation. Empty: no role for a person.')
param principalId string = ''

@description('The tenantsync configuration as base64-encoded JSON (azd env set TENANTSYNC_CONFIG_B64 "$(base64 -w0 tenantsync.json)"); becomes TENANTSYNC_CONFIG_JSON. The text __GRAPH_APP_CLIENT_ID__ in it is replaced by the client id of the Graph app created here. Empty: the app reads tenantsync.yaml packaged next to host.json.')
param tenantsyncConfigBase64 string = ''

@description('NCRONTAB schedule of the Reconcile function (six fields).')
param reconcileSchedule string = '0 */15 * * * *'

@description('NCRONTAB schedule of the SubscriptionManager function (six fields).')
param subscriptionSchedule string = '0 0 */6 * * *'

// Flex Consumption instance sizes and scale limit:
// https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#instance-memory
@allowed([
  512
  2048
  4096
])
@description('Memory of each Flex Consumption instance, in MB. The Go handler is small: 512 is enough.')
param instanceMemoryMB int = 512

@minValue(1)
@maxValue(1000)
@description('Most instances the app scales out to. Graph write quotas, not compute, bound throughput.')
param maximumInstanceCount int = 40

@description('Create the multi-tenant Graph app, its federated credential and its source permissions. Needs an Entra role that can create apps and grant Microsoft Graph application permissions (docs/deploy.md). False: create them by hand.')
param createGraphApp bool = true

@description('Where Entra sends a target administrator after admin consent; registered on the Graph app and put in the consent URL.')
param consentRedirectUri string = 'https://entra.microsoft.com/'

@description('Whether tenantsync provisions groups into the targets (a target with groups in tenantsync.yaml): the Graph app then also asks them for Group.ReadWrite.All.')
param groupProvisioning bool = false

// Always-ready instances are billed while idle (docs/deploy.md, Cost):
// https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#always-ready-instances
@minValue(0)
@maxValue(10)
@description('Always-ready instances of the HTTP function group (GraphWebhook, GraphLifecycle, Status), so that Graph never waits for a cold start; 0 turns them off and saves their baseline cost.')
param httpAlwaysReadyInstances int = 1

@description('Create the single-tenant Entra app operators sign in with before the status page (App Service authentication). Needs an Entra role that can create apps; false: the status page refuses every request unless operatorAppClientId names an app made by hand (docs/deploy.md).')
param createOperatorApp bool = true

@description('Client id of an operator sign-in app made by hand, when createOperatorApp is false.')
param operatorAppClientId string = ''

@description('Object ids of the users or groups that may open the status page (the operator app role); more can be assigned later in Enterprise applications.')
param statusPageOperators string[] = []

@description('IPv4 addresses or CIDR ranges allowed to reach the storage account and the Service Bus namespace. Empty (the default): every network, as before. Non-empty: only these and trusted Azure services; the function app must be able to reach both from one of them (docs/deploy.md, Network access).')
param allowedIpRanges string[] = []

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-tenantsync-${resourceToken}'
// Container names: 3-63 lowercase letters, digits and hyphens.
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
// The queue ProcessChange listens on; also the ServiceBusQueueName app setting.
var queueName = 'changes'
var configJson = empty(tenantsyncConfigBase64)
  ? ''
  : replace(base64ToString(tenantsyncConfigBase64), '__GRAPH_APP_CLIENT_ID__', graphAppClientId)
var graphAppClientId = createGraphApp ? graphApp!.outputs.clientId : ''

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

// The runtime identity: host storage, state tables, Service Bus, telemetry,
// the function key.
module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-tenantsync-${resourceToken}'
    location: location
    tags: tags
  }
}

// The Graph identity: the subject of the Graph app's federated credential,
// and nothing else. It is given no Azure role anywhere (deploycheck).
module graphIdentity 'modules/identity.bicep' = {
  name: 'graph-identity'
  scope: rg
  params: {
    name: 'id-tenantsync-graph-${resourceToken}'
    location: location
    tags: tags
  }
}

// The deployment identity: the Flex Consumption deployment container only.
module deploymentIdentity 'modules/identity.bicep' = {
  name: 'deployment-identity'
  scope: rg
  params: {
    name: 'id-tenantsync-deploy-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-tenantsync-${resourceToken}'
    applicationInsightsName: 'appi-tenantsync-${resourceToken}'
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    identityPrincipalId: identity.outputs.principalId
    deploymentIdentityPrincipalId: deploymentIdentity.outputs.principalId
    userPrincipalId: principalId
    allowedIpRanges: allowedIpRanges
  }
}

module servicebus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: 'sb-tenantsync-${resourceToken}'
    location: location
    tags: tags
    queueName: queueName
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    allowedIpRanges: allowedIpRanges
  }
}

module graphApp 'modules/graph-app.bicep' = if (createGraphApp) {
  name: 'graph-app'
  scope: rg
  params: {
    uniqueName: 'tenantsync-${resourceToken}'
    displayName: 'tenantsync (${environmentName})'
    // The Graph identity, not the runtime one: whoever holds a role on the
    // storage account or the queue cannot sign in to any tenant.
    identityPrincipalId: graphIdentity.outputs.principalId
    redirectUri: consentRedirectUri
    groupProvisioning: groupProvisioning
  }
}

module app 'modules/app.bicep' = {
  name: 'app'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-tenantsync-${resourceToken}'
    location: location
    tags: tags
    identityResourceId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    identityPrincipalId: identity.outputs.principalId
    graphIdentityResourceId: graphIdentity.outputs.resourceId
    graphIdentityClientId: graphIdentity.outputs.clientId
    deploymentIdentityResourceId: deploymentIdentity.outputs.resourceId
    blobEndpoint: storage.outputs.blobEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    serviceBusNamespaceFqdn: servicebus.outputs.fullyQualifiedNamespace
    queueName: servicebus.outputs.queueName
    reconcileSchedule: reconcileSchedule
    subscriptionSchedule: subscriptionSchedule
    configJson: configJson
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    httpAlwaysReadyInstances: httpAlwaysReadyInstances
    createOperatorApp: createOperatorApp
    operatorAppClientId: operatorAppClientId
    operatorAppUniqueName: 'tenantsync-operators-${resourceToken}'
    operatorAppDisplayName: 'tenantsync operators (${environmentName})'
    statusPageOperators: statusPageOperators
  }
}

// azd stores these in .azure/<env>/.env; the postprovision hook and the
// operator CLI read them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.name
output TENANTSYNC_WEBHOOK_URL string = app.outputs.webhookUrl
output TENANTSYNC_TABLES string = storage.outputs.tableEndpoint
output SERVICEBUS_NAMESPACE_FQDN string = servicebus.outputs.fullyQualifiedNamespace
output SERVICEBUS_QUEUE_NAME string = servicebus.outputs.queueName
output TENANTSYNC_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output TENANTSYNC_GRAPH_IDENTITY_CLIENT_ID string = graphIdentity.outputs.clientId
output TENANTSYNC_STATUS_PAGE_URL string = app.outputs.statusPageUrl
output TENANTSYNC_OPERATOR_APP_CLIENT_ID string = app.outputs.operatorAppClientId
output TENANTSYNC_APP_CLIENT_ID string = graphAppClientId
// The admin-consent URL of a target tenant once {tenant} is replaced; the same
// format as internal/consent.Template. environment().authentication.loginEndpoint
// is https://login.microsoftonline.com/ in the public cloud.
output TENANTSYNC_CONSENT_URL_TEMPLATE string = createGraphApp
  ? '${environment().authentication.loginEndpoint}{tenant}/adminconsent?client_id=${graphAppClientId}&redirect_uri=${uriComponent(consentRedirectUri)}'
  : ''
