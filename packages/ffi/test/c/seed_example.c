/* The seed specification's "Example Usage (from C)", inside a plue_host_main. */
#include <stdio.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"

int plue_host_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    // Create session
    plue_session_t session = plue_session_create(NULL);
    if (!session) {
        printf("Error: %s\n", plue_get_last_error());
        return 1;
    }

    // Get info
    char* info_json = plue_session_get_info(session);
    printf("Session info: %s\n", info_json);
    plue_free_json(info_json);

    // Update title
    if (plue_session_update_title(session, "My Coding Session") != 0) {
        printf("Failed to update title\n");
    }

    // Create share link
    char* share_json = plue_session_create_share(session);
    printf("Share info: %s\n", share_json ? share_json : plue_get_last_error());
    plue_free_json(share_json);

    char* after = plue_session_get_info(session);
    printf("After: %s\n", after);
    plue_free_json(after);

    // Clean up
    plue_session_destroy(session);
    return 0;
}
