/*
 * The C suite (suite.c, written as a `plue host` plugin) run by a plain program with its own
 * main() through plue_init, so every mode also runs over the sidecar transport.
 * Usage: sidecar_suite MODE REPORT_FILE [args as for suite.c]. Prints the strings left live.
 */
#include "suite.c"

/* shutdown mode: plue_shutdown from another thread while the hammer threads are in calls. */
static void *shutdown_while_busy(void *arg) {
    (void)arg;
    while (__sync_fetch_and_add(&hammered, 0) < 50) usleep(1000);
    plue_shutdown();
    return NULL;
}

int main(int argc, char **argv) {
    int status, shutting = argc > 1 && strcmp(argv[1], "shutdown") == 0;
    pthread_t closer;
    if (plue_init(NULL) != PLUE_OK) {
        fprintf(stderr, "plue_init: %s\n", plue_get_last_error());
        return 100;
    }
    if (shutting) pthread_create(&closer, NULL, shutdown_while_busy, NULL);
    status = plue_host_main(argc, argv);
    if (shutting) pthread_join(closer, NULL);
    else if (plue_shutdown() != PLUE_OK) status = 101;
    printf("live strings: %ld\n", (long)plue__live_strings());
    return status;
}
