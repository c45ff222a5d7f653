// The Service Bus namespace and the queue of change messages. Standard tier:
// sessions (one session per source object, so no two workers handle one user
// at once) and scheduled messages (re-scheduling on Graph throttling) need
// it; Basic has neither. Local (SAS) authentication is disabled.
//
// AVM service-bus/namespace 0.16.1 (CHANGELOG:
// https://github.com/Azure/bicep-registry-modules/blob/main/avm/res/service-bus/namespace/CHANGELOG.md).
// Parameters name, location, tags, skuObject, zoneRedundant,
// disableLocalAuth, authorizationRules, minimumTlsVersion,
// publicNetworkAccess, networkRuleSets (publicNetworkAccess, defaultAction,
// trustedServiceAccessEnabled, ipRules {action, ipMask}), queues,
// roleAssignments; queue items name, requiresSession, maxDeliveryCount,
// lockDuration, deadLetteringOnMessageExpiration, defaultMessageTimeToLive
// (passed through to the queue child module); outputs name and
// serviceBusEndpoint (the namespace's properties.serviceBusEndpoint), as in
// the module's main.bicep at tag avm/res/service-bus/namespace/0.16.1:
// https://github.com/Azure/bicep-registry-modules/blob/main/avm/res/service-bus/namespace/main.bicep
//
// The module's zoneRedundant defaults to true ("Enabled by default in order
// to align with resiliency best practices, thus requires Premium SKU"), so
// Standard must pass false explicitly.

@description('Name of the namespace (6-50 characters).')
param name string

@description('Region of the namespace.')
param location string

@description('Tags of the namespace.')
param tags object

@description('Name of the queue of change messages (the ServiceBusQueueName app setting).')
param queueName string

@description('Principal id of the managed identity of the function app.')
param identityPrincipalId string

@description('Object id of a person who runs dlq list/resubmit; empty for none.')
param userPrincipalId string = ''

@description('IPv4 addresses or CIDR ranges allowed to reach the namespace; empty (the default) allows every network. See docs/deploy.md, Network access: the function app must be among them.')
param allowedIpRanges string[] = []

// Built-in roles:
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration#azure-service-bus-data-receiver
var serviceBusDataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
var serviceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'

var identityRoles = [
  {
    roleDefinitionIdOrName: serviceBusDataReceiver
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'tenantsync: ProcessChange trigger'
  }
  {
    roleDefinitionIdOrName: serviceBusDataSender
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'tenantsync: GraphWebhook and Reconcile enqueue, ProcessChange re-schedules'
  }
]
var userRoles = empty(userPrincipalId)
  ? []
  : [
      {
        roleDefinitionIdOrName: serviceBusDataReceiver
        principalId: userPrincipalId
        description: 'tenantsync: dlq list'
      }
      {
        roleDefinitionIdOrName: serviceBusDataSender
        principalId: userPrincipalId
        description: 'tenantsync: dlq resubmit'
      }
    ]

var ipRules = [for range in allowedIpRanges: { action: 'Allow', ipMask: range }]

module namespace 'br/public:avm/res/service-bus/namespace:0.16.1' = {
  name: 'service-bus-namespace'
  params: {
    name: name
    location: location
    tags: tags
    skuObject: {
      name: 'Standard'
    }
    disableLocalAuth: true
    // No SAS rules: with local auth disabled they could not be used anyway.
    authorizationRules: []
    minimumTlsVersion: '1.2'
    zoneRedundant: false
    publicNetworkAccess: 'Enabled'
    // Network rules only when ranges are given: the namespace then denies
    // every other address; trusted Microsoft services stay allowed.
    // https://learn.microsoft.com/azure/service-bus-messaging/service-bus-ip-filtering
    networkRuleSets: empty(allowedIpRanges)
      ? null
      : {
          publicNetworkAccess: 'Enabled'
          defaultAction: 'Deny'
          trustedServiceAccessEnabled: true
          ipRules: ipRules
        }
    queues: [
      {
        name: queueName
        requiresSession: true
        // A message that fails 10 times goes to the dead-letter queue (dlq list).
        maxDeliveryCount: 10
        // The handler renews nothing itself; the host renews the session lock.
        lockDuration: 'PT1M'
        deadLetteringOnMessageExpiration: true
        defaultMessageTimeToLive: 'P14D'
      }
    ]
    roleAssignments: concat(identityRoles, userRoles)
  }
}

@description('Name of the namespace.')
output name string = namespace.outputs.name

// The host of the namespace's own endpoint (https://<name>.servicebus.windows.net:443/
// in the public cloud): ARM's environment() has a storage suffix but none for
// Service Bus, so the endpoint the namespace reports is what carries the
// cloud's suffix, as environment().suffixes.storage does for the tables.
// https://learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-functions-deployment#environment
@description('Fully qualified namespace (ServiceBusConnection__fullyQualifiedNamespace), from the namespace\'s serviceBusEndpoint.')
output fullyQualifiedNamespace string = split(split(split(namespace.outputs.serviceBusEndpoint, '//')[1], '/')[0], ':')[0]

@description('Name of the queue.')
output queueName string = queueName
