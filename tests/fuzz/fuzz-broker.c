/* SPDX-License-Identifier: MIT */
/*
 * fuzz-broker.c: what a guest sends the network broker: request heads of
 * every shape, through broker_serve_one on a socketpair, and the secret
 * injection into request heads. The rules name only reserved address
 * literals, so no input ever reaches the network (nor waits for DNS).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/broker.h"
#include "net/policy.h"

static struct net_policy pol;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    pol.rules = calloc(2, sizeof(*pol.rules));
    pol.secrets = calloc(1, sizeof(*pol.secrets));
    if (!pol.rules || !pol.secrets || net_rule_parse("192.0.2.1:*", &pol.rules[0], NULL) < 0 ||
        net_rule_parse("[2001:db8::1]:*", &pol.rules[1], NULL) < 0 ||
        net_secret_parse("TOKEN=real-value@*", &pol.secrets[0], NULL) < 0)
        abort();
    pol.nrules = 2;
    pol.secrets[0].placeholder = strdup("sbvm-secret-0123456789abcdef");
    pol.nsecrets = 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sbvm_net_attempt rec;
    char answer[4096], *head;
    size_t len;
    int sv[2];

    /* The injection on the input as a request head. */
    head = malloc(size + 1);
    if (!head)
        return 0;
    memcpy(head, data, size);
    head[size] = '\0';
    len = strlen(head);
    net_inject_secrets(&pol, "host.example", &head, &len, NULL);
    free(head);

    /* The whole exchange; names other than the address literal do not
     * match a rule, so nothing resolves. */
    if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    if (write(sv[0], data, size) != (ssize_t)size) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    shutdown(sv[0], SHUT_WR);
    broker_serve_one(&pol, sv[1], &rec);
    net_attempt_release(&rec);
    close(sv[1]);
    while (read(sv[0], answer, sizeof(answer)) > 0)
        ;
    close(sv[0]);
    return 0;
}
