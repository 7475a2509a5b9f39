#!/bin/sh
# Prints a Debian changelog for one build: changelog.sh VERSION-REVISION
# COMMIT MAINTAINER. The package's history is the git log; Debian tools
# (lintian, apt-listchanges) still expect an entry for the installed version.
set -eu
version=$1 commit=$2 maintainer=$3
date=$(git log -1 --format=%cD 2>/dev/null || date -R)
cat <<END
edgepub ($version) unstable; urgency=medium

  * Built from commit ${commit:-unknown}.
  * The changes are in the project's git history.

 -- $maintainer  $date
END
