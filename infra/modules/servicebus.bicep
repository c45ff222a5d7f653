// The Service Bus namespace and the queue of change messages. Standard tier:
// sessions (one session per source object, so no two workers handle one user
// at once) and scheduled messages (re-scheduling on Graph throttling) need
// it; Basic has neither. Local (SAS) authentication is disabled.
//
// AVM service-bus/namespace 0.16.1 (CHANGELOG:
// https://github.com/Azure/bicep-registry-modules/blob/main/avm/res/service-bus/namespace/CHANGELOG.md).
// Parameters name, location, tags, skuObject, disableLocalAuth,
// authorizationRules, minimumTlsVersion, publicNetworkAccess, queues,
// roleAssignments; queue items name, requiresSession, maxDeliveryCount,
// lockDuration, deadLetteringOnMessageExpiration, defaultMessageTimeToLive
// (passed through to the queue child module); output name:
// https://github.com/Azure/bicep-registry-modules/blob/main/avm/res/service-bus/namespace/main.bicep

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
    publicNetworkAccess: 'Enabled'
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

@description('Fully qualified namespace (ServiceBusConnection__fullyQualifiedNamespace); public cloud suffix.')
output fullyQualifiedNamespace string = '${namespace.outputs.name}.servicebus.windows.net'

@description('Name of the queue.')
output queueName string = queueName
