// Package customhandler speaks the Azure Functions custom-handler protocol:
// it is the web server the Functions host starts and calls, and it decodes
// and encodes the host's invocation payloads. It holds no tenantsync logic.
//
// The host talks to a custom handler in two ways, both over HTTP on
// 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT:
//
//   - Invocations. For a function with a non-HTTP trigger (Service Bus,
//     timer) the host POSTs {"Data":{…},"Metadata":{…}} to /<FunctionName>
//     and expects {"Outputs":{…},"Logs":[…],"ReturnValue":…} back. A non-2xx
//     answer fails the invocation: that is how a Service Bus message is
//     abandoned on purpose (and retried, then dead-lettered). The host reads
//     Logs only from 2xx answers, so a failure is also written to the
//     process log, which the host captures from the worker's stdout.
//   - Forwarded HTTP. With enableForwardingHttpRequest in host.json, a
//     function whose only bindings are httpTrigger and http out gets the
//     original request at its own path (/api/<route>, query included) and
//     the handler's response goes back to the caller unchanged.
//
// The host also probes the server with GET / until it answers, and sends the
// invocation id in the X-Azure-Functions-InvocationId header of every
// request; Server puts it on every log record.
//
// Payload shapes follow the host's code (Azure/azure-functions-host,
// ScriptInvocationContextExtensions.ToHttpScriptInvocationContext) and the
// Service Bus extension 5.x binding data: string metadata values are JSON
// encoded a second time ("MessageId":"\"abc\""), numbers arrive as strings
// ("DeliveryCount":"1"), a string trigger value is encoded a second time
// too, and DateTime values carry no zone (they are UTC). The decoders accept
// the singly encoded forms as well, because older hosts and the documentation
// show them. See testdata/README.md for the sources of each fixture.
//
// One host behaviour matters to whoever designs queue messages: when a
// Service Bus body is a JSON object, the host copies its top-level scalar and
// object properties into the trigger metadata, replacing metadata of the same
// name (case-insensitively). CheckServiceBusBody reports such collisions.
package customhandler
