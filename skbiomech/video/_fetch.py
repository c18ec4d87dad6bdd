"""Model files for the video pipeline, fetched once into a per-user cache.

Like ``scipy.datasets`` and ``skimage.data``: a registry of file names and
SHA-256 hashes, :mod:`pooch` (an optional dependency) to download with a
checksum check, atomically and with a progress bar, and an error that says
which file to put where when there is no network.

Where files live
----------------
* Downloads go to ``$SKBIOMECH_DATA`` if set, else ``<cache>/data``, where
  ``<cache>`` is ``$SKBIOMECH_CACHE`` if set, else the user cache folder
  (``pooch.os_cache("skbiomech")``: ``~/.cache/skbiomech`` on Linux), the
  same root as the image feature cache.
* ICT-FaceKit models converted by :func:`load_ict_face` go to
  ``<cache>/ict_face``; nothing is ever written into a folder the user gave.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

from .. import __version__
from .._io import atomic_write
from ..face import FaceModel, _calibration, _ict, _model, _skin
from ..face._ict import load_ict_facekit, load_ict_identities

__all__ = ["fetch_face_landmarker", "fetch_ict_facekit", "load_ict_face"]

_INSTALL = 'pip install "skbiomech[video]"'
_LANDMARKER = "face_landmarker.task"
_LANDMARKER_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
)
_ICT_HOME = "https://github.com/ICT-VGL/ICT-FaceKit"
# The master commit of 2020-12-01 (still master when these hashes were taken):
# a pinned commit keeps the URLs serving exactly the bytes hashed below.
_ICT_COMMIT = "da5f95a607f5e6b37755b38d3385d7f2853732e5"
_ICT_RAW = f"https://raw.githubusercontent.com/ICT-VGL/ICT-FaceKit/{_ICT_COMMIT}/"
_ICT_DIR = "ict-facekit/FaceXModel"
_ICT_LICENSE = "ict-facekit/LICENSE"
_ENV_DATA, _ENV_CACHE = "SKBIOMECH_DATA", "SKBIOMECH_CACHE"
_ENV_LANDMARKER, _ENV_ICT = "SKBIOMECH_FACE_LANDMARKER", "SKBIOMECH_ICT_FACEKIT"
_RETRIES = 2  # pooch retries a failed download (network or checksum) this many times
_CACHE_FORMAT = 1  # bump when the converted cache's layout changes

# sha256, size in bytes, name under the data folder. Taken from the published
# files (ICT-FaceKit at _ICT_COMMIT: the 53 expressions of vertex_indices.json
# and the first 50 of its 100 identity modes).
_REGISTRY_TABLE = """
81121f0527e9b71660e53bd7f4bd94b3795c5ed7de6f42ebd601fc3e95febe28 3933409 face_landmarker.task
b20a78d8fc51657e14f3e00c8abb538d786ad00aa63210328c22565e583167e1    1096 ict-facekit/LICENSE
eedbc2576d8e5ea57f55255b8f98263213a1efb5431d8bfceed1d7aef10271f9 2555599 ict-facekit/FaceXModel/generic_neutral_mesh.obj
4f9b35306299980dd46bee4a6b79bb95dfae1953693b74b35a64f7febfd081a5  164052 ict-facekit/FaceXModel/vertex_indices.json
d1dcd14fc085a9e258dec62a4bfe4a31d592cce5d8918a3892c20f480653f4c1 2557185 ict-facekit/FaceXModel/browDown_L.obj
66a2c72ab64999af168795f27182d011f52b90958c402d719d3ec8ff7d1c8939 2557221 ict-facekit/FaceXModel/browDown_R.obj
81fb1625794ea36fb13303234ce06cef798acfdbc489077e22ae195a705bc92e 2557407 ict-facekit/FaceXModel/browInnerUp_L.obj
5e66b46cdad89fd1237273db2b885511688cf37636cedfdde432a4844c9109e7 2557536 ict-facekit/FaceXModel/browInnerUp_R.obj
022d5342687e51351f4cad6dd1abd42c3bb1b752d0b235bdc7fc588ab0d79c90 2557263 ict-facekit/FaceXModel/browOuterUp_L.obj
1e4722060538b274ed49ed872525d770b5bfd9262b7bce1b6310f49356f5b531 2557349 ict-facekit/FaceXModel/browOuterUp_R.obj
f53fd2bdeb8e26d0db8a684ab9c095c6bb113b74575dec329facae2799ff18c6 2557393 ict-facekit/FaceXModel/cheekPuff_L.obj
cd5b5d0f3a653a1fa31abeb65daf8fd6ffdf83a4d1bf22333a469b13b96fa801 2557558 ict-facekit/FaceXModel/cheekPuff_R.obj
572fe87f2e0cdd0a7ff868b9173d0ff08ee2bc73bf94c17b603f6e5d5b8fbe26 2557264 ict-facekit/FaceXModel/cheekSquint_L.obj
a9afa0aac432159e89eb54dbbb3139864b8cc1c4208c3c0e9c420d0d8050b99a 2557282 ict-facekit/FaceXModel/cheekSquint_R.obj
f5ed1c3072a400083b7d4f7f5cb3d73882b7ebb95c3232f957394db8cf7fe19e 2558269 ict-facekit/FaceXModel/eyeBlink_L.obj
d281ad0af03e89a70abf1214d52c295b3a279c9b35f6795938c4487f467ca003 2558238 ict-facekit/FaceXModel/eyeBlink_R.obj
e7da4fa6509af5da25fab1a34255889a68f06b90fd37f65c6c05e5bdbbe2f755 2556857 ict-facekit/FaceXModel/eyeLookDown_L.obj
ac466de6decf619701f3ee7f80fa7371020d325084b41ad7f4b2840e232abf83 2557046 ict-facekit/FaceXModel/eyeLookDown_R.obj
1e037332bc059a95d05fcb24728ae297a2d4d268ff0cf623d3647d2a4f86bd31 2556734 ict-facekit/FaceXModel/eyeLookIn_L.obj
3d64db0e51ad28e76eff56217da401c5ee563b5e76a207cb192046465bbab14a 2556912 ict-facekit/FaceXModel/eyeLookIn_R.obj
235739695136c40b7a2c3239a100ff75b7bfc271ae195aeb55330848c999c9c8 2556671 ict-facekit/FaceXModel/eyeLookOut_L.obj
ac10dfa83ccaca7fd76fe96d74f8cbc80582e2ef914d1092827b54f88125650e 2556899 ict-facekit/FaceXModel/eyeLookOut_R.obj
72ed342df43489a76e9d468df3ca7f48328f41c924af0c03d88fde9905d82848 2556663 ict-facekit/FaceXModel/eyeLookUp_L.obj
d8ade1cab9f7f0c4ef6ec007f33e9c9df90a58c666b9aac5a784192cd389e899 2556887 ict-facekit/FaceXModel/eyeLookUp_R.obj
ecb8244f083cf55fa9f0277427b8213315176a624d9ac3a09b533c7fbc68917e 2557184 ict-facekit/FaceXModel/eyeSquint_L.obj
0dffbbc651b9cdbc346ead32ba102051200c72ed8a93e7b33f07149e18390b8a 2557220 ict-facekit/FaceXModel/eyeSquint_R.obj
015a995b0f09783683f5575af7e4c939cd758d194d7ca2e8ffacb9ddbabf0078 2556638 ict-facekit/FaceXModel/eyeWide_L.obj
4b8207f6013a751ae35affba62cc70bd6b53e046bbe48e8fd5a150450a7789ed 2556824 ict-facekit/FaceXModel/eyeWide_R.obj
a0126b2926b69540f478e4c48f05e370868050e6c33718e53c2f17e190a3b239 2558382 ict-facekit/FaceXModel/jawForward.obj
5af90cd941660fb0116948866414e4321035de754b7ebec787f8144445d2d9e9 2557576 ict-facekit/FaceXModel/jawLeft.obj
8d84355e10f48b05550980cee385bcd426f4797090da76a20de0535bb2f99f4a 2558596 ict-facekit/FaceXModel/jawOpen.obj
d719335ad69a8f18797501d4728910c7a467aecbbae260923192b1bf242eec97 2558778 ict-facekit/FaceXModel/jawRight.obj
4a44b94c269407cf1171483d87d99d2cbdea9c66242aabf2ad0f57cb785aa193 2558396 ict-facekit/FaceXModel/mouthClose.obj
189f6e01adbf1e13147fe4d505d1f3006e5ce4590ae150064b810274093d29b0 2557203 ict-facekit/FaceXModel/mouthDimple_L.obj
4cf674b98d6d34a16fab462fbd9ecb2cb5e39ccaf3f50459b9ac7d59fbd6a215 2557190 ict-facekit/FaceXModel/mouthDimple_R.obj
1bfd720ad024e5805ac8472df170c2c96c09e817e02b66f916057d6e2d31ee9b 2557212 ict-facekit/FaceXModel/mouthFrown_L.obj
ae3da92fa1dc70010c6bec810338d740287c71b8730694c97876cab5af241f74 2557343 ict-facekit/FaceXModel/mouthFrown_R.obj
d4f1dba04c1af5fc37452c88cc54a72f1133296c26d9abe0f8adb74dc5c2577f 2558785 ict-facekit/FaceXModel/mouthFunnel.obj
01fb69aa8ac07c5762719c9bb2eec5372652c9f1e73509a63d01e7e60e28b885 2557806 ict-facekit/FaceXModel/mouthLeft.obj
8847660d51e2a72f2bce6ce9add7d58abab1cef967420db83056891291c0b2de 2557198 ict-facekit/FaceXModel/mouthLowerDown_L.obj
b5143ed50d41c91d80ddc8b565f6274eaf514509ec6f895797db34ca92a85b68 2557217 ict-facekit/FaceXModel/mouthLowerDown_R.obj
de2bdaf2fa7199294ff7a281cd8f6647bf5ca9a6f84588bd7f7779fff4c61396 2557371 ict-facekit/FaceXModel/mouthPress_L.obj
ca8d9973b3231e51b8b76d3e7af7f7f3432959b7c37148fc25e7c643252847b6 2557400 ict-facekit/FaceXModel/mouthPress_R.obj
9929c31025667683809f70df7dce612f72e3acfc7f9e8acb939f6636509dbc5c 2558649 ict-facekit/FaceXModel/mouthPucker.obj
e3faaf5ed51715e77122d76e8187d5ba83ea9f54e15e29c52e64f26c52e66bda 2559046 ict-facekit/FaceXModel/mouthRight.obj
1f577e1129eef4f9e9dc26aa739c6d0f15b27253dee89af3428db6816666e910 2558326 ict-facekit/FaceXModel/mouthRollLower.obj
a69ec7407adfd6a5f4c818179bb4604d9e506c07671976f75ac33ef8f54a1bb0 2558554 ict-facekit/FaceXModel/mouthRollUpper.obj
1eedd7831b0408bdcbc9aefe23b11803c54f81da5fc9be1fe81fc7a5117c0b88 2558293 ict-facekit/FaceXModel/mouthShrugLower.obj
2bd3e3f1568366f2fd84717f0f63aee9f56eed4c303fc4f234aadd81d430032c 2645083 ict-facekit/FaceXModel/mouthShrugUpper.obj
91794e73cef330f1c7d1f4541723544708536b39d5dd6ed35fd8f83f676b7af4 2556954 ict-facekit/FaceXModel/mouthSmile_L.obj
3fb3de3da9f8358edbb933a65ce6e44c25a2501f30dcb240daea725b68adac84 2556994 ict-facekit/FaceXModel/mouthSmile_R.obj
9187105730bad43023c63e2a91c979091b9289dd8fc1b587885412b8f7a3d2b7 2644789 ict-facekit/FaceXModel/mouthStretch_L.obj
d985452085a19d6b3da397ca2cd2f938d8e08761d2e684e87640f3639bdf5f6d 2556437 ict-facekit/FaceXModel/mouthStretch_R.obj
d49483aca6cbbb7a559edf4865aec62970560ddf3a0d34e5b208488bff59f722 2645019 ict-facekit/FaceXModel/mouthUpperUp_L.obj
299e3da0f36ca80c0c74e51900b67bfe6bb5b0101aaf46ce30075064c26a7f02 2556207 ict-facekit/FaceXModel/mouthUpperUp_R.obj
47c5d66ddc1ba146480f0e43b1084f439e0e7d2af31bcec3e6a3bffc420ffa4d 2557159 ict-facekit/FaceXModel/noseSneer_L.obj
c384c41331124b9cd4b99c1bbe8aef56318cae2b8db6ff0f573a7347ebbe8caa 2557058 ict-facekit/FaceXModel/noseSneer_R.obj
918160cf82d541336b4c367cf93199c9827832bde02511b8fbdf9019d6f1a773 2559425 ict-facekit/FaceXModel/identity000.obj
325115059deb6691cb2d55da07ae38bb08ce36e4ea146982f294a17513155b3b 2558978 ict-facekit/FaceXModel/identity001.obj
e140e8305cd5232def3b94331d08450a13f312e525130fca8eeaa653231decc3 2559778 ict-facekit/FaceXModel/identity002.obj
be3481a6bed8953a6d9dd7f811a04bc6d2ab94d1bd76ecfaa6d4cae87a450f9d 2559601 ict-facekit/FaceXModel/identity003.obj
a2f411cc763e881cff250eb23c04fe8375b63a05a7dfa0492422e3b943e8a01d 2559142 ict-facekit/FaceXModel/identity004.obj
274178eb33e33c555e6024535a51a62ee50050abd4f7014bbc7a4dc90a638c65 2559787 ict-facekit/FaceXModel/identity005.obj
c9ae0426ab88b49065c852148f7bcff8cb09253fbee068b78955bd76c19a3e0f 2559268 ict-facekit/FaceXModel/identity006.obj
ba38037151277b94e2b6b9b9800275d92d2c0aa8d61057b0718c9d7b90fffc44 2559156 ict-facekit/FaceXModel/identity007.obj
b03543b783a15c1d28c5a384cd93657eda915227756780f682bc7370cd94ce1d 2559269 ict-facekit/FaceXModel/identity008.obj
0cbb5ca5db9c61fa91df8d1c04b9b383b40d797032ca3f5a28a234d495e31b54 2558646 ict-facekit/FaceXModel/identity009.obj
7bd1c31b76428cfb4bf29a2ac38bc2711d8c254aec25bba7ebd7a9b7dc81ebc7 2559280 ict-facekit/FaceXModel/identity010.obj
68684bafa7e460ce7dd69c618a260143e6ecfa1254d0d49ec40202092a4b05f3 2559530 ict-facekit/FaceXModel/identity011.obj
b899f17f8727b903b36f9a879ec95427c4df93d415956a211745bf44ed2be2dd 2559442 ict-facekit/FaceXModel/identity012.obj
57a17eb9945a21c0a869dca4401964742c8d47e512d680fef94447aff826abc3 2559747 ict-facekit/FaceXModel/identity013.obj
8a1a490f6e695c9116b820a95137823282415fb20bb0362725bedf0a1c2d8bd3 2559520 ict-facekit/FaceXModel/identity014.obj
9f3da084848efabf5b898f72d3006db7442497a560185483358a8d4aefb8ac2d 2559388 ict-facekit/FaceXModel/identity015.obj
184d17ffd35e7796777bf6008e0f904810e3781b46b37f37f9a550f1969c2525 2559604 ict-facekit/FaceXModel/identity016.obj
5b55b7a104f561d5df44a9d0249f21bcf80890dd59666d777c2db9eccd128759 2559398 ict-facekit/FaceXModel/identity017.obj
8ae8dd9cb5c7173f49643974420261f10f0437a7636531a50c2ae9a2badaf9a3 2559320 ict-facekit/FaceXModel/identity018.obj
a22d531cddb3a0aaed12e6feddf45993f73545253d35642300dc4eca6438117a 2559500 ict-facekit/FaceXModel/identity019.obj
3cabf614779ef2e625dfd4323a8db70a174e80e20aa083cd4cd3310503a66f1d 2558496 ict-facekit/FaceXModel/identity020.obj
9ab18156977d76b6651868c68ddf5e3da529678606c9cc451cefe1bbc29cd4e5 2559513 ict-facekit/FaceXModel/identity021.obj
6d6d1fb2c7af1d8bf14b65c2f60aa3312b3c6ad5c5315218559f3f9dd16f4f73 2559136 ict-facekit/FaceXModel/identity022.obj
8b0e809b2b07c36eefaf5a4e6be9efed0ac0e3a8d1cc84130f112e12b188b457 2559425 ict-facekit/FaceXModel/identity023.obj
23f6b0c1ffa4395aae606a199aa29be6b10800e46fd05c804b5a79fd87f718ff 2559557 ict-facekit/FaceXModel/identity024.obj
93089be89ad88e7fe701dad51b07ecfa7eddfa81afaf13e27976bf97cc43a000 2558955 ict-facekit/FaceXModel/identity025.obj
66c02f3e68e7e298b5e0938003df67a804bf0b153342acaa9ec19e63a7043896 2559520 ict-facekit/FaceXModel/identity026.obj
d652ae8402706cd0eafa78b3745dea8435c496ca8585fe7300718e992b8fe690 2559452 ict-facekit/FaceXModel/identity027.obj
9857adc057878d3d6f54a058e373a4ce471f77ccd49497008e2700c9d89e3d98 2558839 ict-facekit/FaceXModel/identity028.obj
cf5c15dcf37e3d8973be8c86696894d1a8f902ba80cca28d3fda5cff87a70f09 2559532 ict-facekit/FaceXModel/identity029.obj
ed70813c94cbbbf57b417016c760f2da44406da63d2b4bbbf8eb55711478c75c 2559442 ict-facekit/FaceXModel/identity030.obj
c45f199b1e6dca582513863acb625ed1e2b61b5646098cc29d042db071e57ef2 2559664 ict-facekit/FaceXModel/identity031.obj
b15d9d537ac8bf0408f321dc16fdd825fb1f52eb771e0d5201f75c02c94301c6 2559436 ict-facekit/FaceXModel/identity032.obj
3dec9b7de7830d43eb7e7239469c07b0d02a7a61614565ae880182411a3931fb 2558789 ict-facekit/FaceXModel/identity033.obj
bdef7f09c2bd200e026eeaceec519683033d6967ec831e0f32a1d1fcadd47ae1 2559442 ict-facekit/FaceXModel/identity034.obj
f3ada8ae8bc42a604835d3752d6ac7d30d71652ea459560f9b8e528ae1e611df 2559549 ict-facekit/FaceXModel/identity035.obj
e18ae8cfc06d376584f9b12fc2dd6535f3784c37128b66ae49ec0bdc53babfa6 2559401 ict-facekit/FaceXModel/identity036.obj
e2a78ab5ea24dc03a2369e86086afca681373e7a33e84490a63749f54aae8f5f 2558790 ict-facekit/FaceXModel/identity037.obj
37080e0e0aef74921514d4fe6e4d9054fd49b317ab328bfed9ecf4452c8d39ab 2559709 ict-facekit/FaceXModel/identity038.obj
bc1e7dc17ea65e0acd7cec7a54c4fb16fbd1a15982c5eda853d4a409850da3b5 2559527 ict-facekit/FaceXModel/identity039.obj
904a520b80658b1a58605109d2a1a0ec765e326afa63a6b57ccdb7b37178fdeb 2559255 ict-facekit/FaceXModel/identity040.obj
b38ac35811e8ce84b517bbcc6769754004adae0207f25067c111f290a5f3283e 2559423 ict-facekit/FaceXModel/identity041.obj
19f9dcb5fdc1a29da1f61a86c00b2e5d29b6649d13bfe88ec9d737424b464cda 2559565 ict-facekit/FaceXModel/identity042.obj
65fbc36dfb2a3ebe9a77d2f895d0342e8537a9d8c61d202c3feef27d442c995c 2558955 ict-facekit/FaceXModel/identity043.obj
d1f69e1a428a9d68a536e53b65fc62db14f70feaadf2dd1374949a2e728aa543 2559590 ict-facekit/FaceXModel/identity044.obj
322357988af125bcf58141e4a90a3c1a475c0271013a2326e6ad610188415d2d 2559212 ict-facekit/FaceXModel/identity045.obj
694d4f4d4f4700f7e2c97cdc26f343259298328434943664f33616c699d93bc7 2559286 ict-facekit/FaceXModel/identity046.obj
1c7e6758628334115ceca708def3151e4e7d0a7641d67579d939c0d71b99aa92 2559570 ict-facekit/FaceXModel/identity047.obj
a75dcc8e295d06ef9df565dc1acb4bf6e0829963d552c9138587b141c8514958 2559570 ict-facekit/FaceXModel/identity048.obj
bd7238c27895a311f2b743535b3026d911a65039a858de89cc76f1922cabf21a 2559256 ict-facekit/FaceXModel/identity049.obj
"""


def _parse_registry(table):
    rows = (line.split() for line in table.strip().splitlines())
    return {name: (digest, int(size)) for digest, size, name in rows}


_REGISTRY = _parse_registry(_REGISTRY_TABLE)


def _import_pooch():
    try:
        import pooch
    except ImportError:
        raise ImportError(f"Downloading model files needs pooch: {_INSTALL}") from None
    return pooch


def _url(name):
    return _LANDMARKER_URL if name == _LANDMARKER else _ICT_RAW + name.removeprefix("ict-facekit/")


def _n_registered_identities():
    return sum(Path(name).stem.startswith("identity") for name in _REGISTRY)


def _ict_names(n_identities):
    """Registry names of the ICT files a model with ``n_identities`` modes needs."""
    inside = [name for name in _REGISTRY if name.startswith(_ICT_DIR + "/")]
    identities = [name for name in inside if Path(name).stem.startswith("identity")]
    return [_ICT_LICENSE, *(n for n in inside if n not in identities), *identities[:n_identities]]


# -- folders --------------------------------------------------------------------


def _cache_root():
    if os.environ.get(_ENV_CACHE):
        return Path(os.environ[_ENV_CACHE]).expanduser()
    try:
        return Path(_import_pooch().os_cache("skbiomech")).expanduser()
    except ImportError:  # converting a local ICT copy needs no pooch: same folder on Linux
        return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "skbiomech"


def _data_dir():
    if os.environ.get(_ENV_DATA):
        return Path(os.environ[_ENV_DATA]).expanduser()
    return _cache_root() / "data"


def _given(path, env):
    """The path argument, else the environment variable's value; and which it was."""
    if path is not None:
        return Path(path).expanduser(), "the path argument"
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser(), f"${env}"
    return None, None


def _check_n_identities(n_identities):
    if isinstance(n_identities, bool) or not isinstance(n_identities, (int, np.integer)) or n_identities < 0:
        raise ValueError(f"n_identities must be a non-negative integer; got {n_identities!r}.")
    return int(n_identities)


# -- downloading ------------------------------------------------------------------


@contextmanager
def _quiet_pooch(pooch):
    # One progress bar for a batch of files instead of a log line per file.
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


def _downloader(progress):
    return _import_pooch().HTTPDownloader(progressbar=progress)


def _fetch_files(names, *, progress, offline_fix):
    """Make sure ``names`` are in the data folder (downloading what is missing or
    does not match its hash); return the data folder."""
    pooch = _import_pooch()
    import requests  # a dependency of pooch

    folder = _data_dir()
    registry = pooch.create(
        path=folder,
        base_url="",
        registry={name: f"sha256:{_REGISTRY[name][0]}" for name in names},
        urls={name: _url(name) for name in names},
        retry_if_failed=_RETRIES,
    )
    missing = [name for name in names if not (folder / name).is_file()]
    batch = progress and len(names) > 1 and missing
    bar = None
    if batch:
        from tqdm.auto import tqdm

        total = sum(_REGISTRY[name][1] for name in missing)
        bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"Downloading {len(missing)} files")
    downloader = _downloader(progress and not batch)
    try:
        with _quiet_pooch(pooch) if batch else nullcontext():
            for name in names:
                try:
                    registry.fetch(name, downloader=downloader)
                except ValueError as exc:  # pooch has deleted the download
                    raise ValueError(
                        f"The download of {name} from {_url(name)} does not match its known SHA-256; "
                        f"nothing was saved ({exc}). Retry later; if it persists the published file has "
                        f"changed: {offline_fix}"
                    ) from None
                except requests.exceptions.RequestException as exc:
                    left = [n for n in names if not (folder / n).is_file()]
                    raise ConnectionError(
                        f"Could not download {name} from {_url(name)} ({type(exc).__name__}: {exc}); "
                        f"{len(left)} file(s) still missing from {folder}. Without network access, "
                        f"{offline_fix}"
                    ) from None
                except OSError as exc:
                    raise OSError(
                        f"Could not save {name} into {folder} ({exc}); set ${_ENV_DATA} to a writable "
                        "folder."
                    ) from None
                if bar is not None and name in missing:
                    bar.update(_REGISTRY[name][1])
    finally:
        if bar is not None:
            bar.close()
    return folder


# -- the face landmarker --------------------------------------------------------------


def fetch_face_landmarker(path=None, *, progress=True):
    """Path of MediaPipe's Face Landmarker model, downloaded once if needed.

    ``face_landmarker.task`` (3.9 MB; Google, Apache License 2.0) holds the
    face detector, the 478-point landmark model and the 52 ARKit blendshape
    scores, for the ``mediapipe`` Tasks API.

    Parameters
    ----------
    path : str or path-like, default=None
        A ``.task`` file to use instead: it is checked to exist and to be a
        model bundle, but not hashed, so other versions can be used.
    progress : bool, default=True
        Show a progress bar while downloading.

    Returns
    -------
    pathlib.Path
        In order: ``path`` if given; else ``$SKBIOMECH_FACE_LANDMARKER`` if
        set; else the copy in the data folder (see the module notes), which
        is downloaded from Google's public model storage if absent and
        checked against its SHA-256.

    Raises
    ------
    FileNotFoundError
        ``path`` (or the environment variable) names no file.
    ValueError
        ``path`` is not a model bundle, or a download does not match its hash.
    ConnectionError
        The download failed; the message says where to put the file by hand.

    Examples
    --------
    >>> from skbiomech.video._fetch import fetch_face_landmarker
    >>> fetch_face_landmarker().name  # doctest: +SKIP
    'face_landmarker.task'
    """
    given, origin = _given(path, _ENV_LANDMARKER)
    if given is not None:
        if not given.is_file():
            raise FileNotFoundError(
                f"No face landmarker model at {given} (from {origin}); give the path of MediaPipe's "
                f"{_LANDMARKER}, or neither the path argument nor ${_ENV_LANDMARKER} to download it "
                f"from {_LANDMARKER_URL}."
            )
        if not zipfile.is_zipfile(given):  # a .task file is a zip bundle of models
            raise ValueError(
                f"{given} (from {origin}) is not a MediaPipe model bundle (a .task file is a zip "
                f"archive); use {_LANDMARKER} from {_LANDMARKER_URL}."
            )
        return given
    target = _data_dir() / _LANDMARKER
    fix = (
        f"download {_LANDMARKER_URL} on another machine and put it at {target}, or set "
        f"${_ENV_LANDMARKER} to its path, or pass its path."
    )
    return _fetch_files([_LANDMARKER], progress=progress, offline_fix=fix) / _LANDMARKER


# -- ICT-FaceKit --------------------------------------------------------------------


def _ict_files_fix(n_identities):
    identities = f", identity000.obj to identity{n_identities - 1:03d}.obj" if n_identities else ""
    return (
        f"copy from the ICT-FaceKit repository ({_ICT_HOME}, MIT licence) its FaceXModel folder "
        f"(generic_neutral_mesh.obj, vertex_indices.json, the expression OBJs it lists{identities}) "
        f"to {_data_dir() / _ICT_DIR} and its LICENSE to {_data_dir() / _ICT_LICENSE}; or set "
        f"${_ENV_ICT} to the FaceXModel folder of a checkout, or pass its path."
    )


def _check_ict_folder(given, n_identities, origin):
    try:
        folder = _ict._resolve_folder(given)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{exc} (from {origin})") from None
    needed = [f"{name}.obj" for name in _ict._expression_names(folder / _ict._INDEX)]
    needed += [f"identity{i:03d}.obj" for i in range(n_identities)]
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        available = 0
        while (folder / f"identity{available:03d}.obj").is_file():
            available += 1
        hint = (
            f"it holds the first {available} identity modes: pass n_identities={available} or fewer"
            if all(name.startswith("identity") for name in missing)
            else f"get them from {_ICT_HOME}"
        )
        shown = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
        raise FileNotFoundError(
            f"{folder} (from {origin}) lacks {len(missing)} ICT-FaceKit file(s) needed: {shown}; {hint}."
        )
    return folder


def fetch_ict_facekit(path=None, *, n_identities=50, progress=True):
    """Path of an ICT-FaceKit ``FaceXModel`` folder, downloaded once if needed.

    The ICT-FaceKit light face model (USC Institute for Creative
    Technologies, MIT License; https://github.com/ICT-VGL/ICT-FaceKit): the
    neutral mesh, ``vertex_indices.json`` and its 53 expression shapes
    (138 MB), and identity modes (2.6 MB each; 128 MB for 50). Only these
    files are downloaded, each checked against its SHA-256, with the licence.

    Parameters
    ----------
    path : str or path-like, default=None
        A ``FaceXModel`` folder (or the checkout holding it) to use instead:
        checked to hold the files needed, but not hashed.
    n_identities : int, default=50
        Identity modes needed, ``identity000.obj`` onwards; at most 50 can be
        downloaded.
    progress : bool, default=True
        Show a progress bar while downloading.

    Returns
    -------
    pathlib.Path
        The ``FaceXModel`` folder: ``path`` if given; else
        ``$SKBIOMECH_ICT_FACEKIT`` if set; else the copy in the data folder,
        of which only the missing files are downloaded.

    Raises
    ------
    FileNotFoundError
        ``path`` (or the environment variable) lacks files needed.
    ValueError
        A bad ``n_identities``, or a download that does not match its hash.
    ConnectionError
        A download failed; the message says which files to put where.

    Examples
    --------
    >>> from skbiomech.video._fetch import fetch_ict_facekit
    >>> folder = fetch_ict_facekit(n_identities=3)  # doctest: +SKIP
    >>> (folder / "generic_neutral_mesh.obj").is_file()  # doctest: +SKIP
    True
    """
    n_identities = _check_n_identities(n_identities)
    given, origin = _given(path, _ENV_ICT)
    if given is not None:
        return _check_ict_folder(given, n_identities, origin)
    limit = _n_registered_identities()
    if n_identities > limit:
        raise ValueError(
            f"n_identities={n_identities}: the first {limit} identity modes can be downloaded; for "
            f"more, pass the path of an ICT-FaceKit checkout ({_ICT_HOME})."
        )
    names = _ict_names(n_identities)
    _fetch_files(names, progress=progress, offline_fix=_ict_files_fix(n_identities))
    return _data_dir() / _ICT_DIR


def _ict_source(path, n_identities, progress):
    given, origin = _given(path, _ENV_ICT)
    if given is not None:
        return _check_ict_folder(given, n_identities, origin)
    folder = _data_dir()
    names = _ict_names(n_identities) if n_identities <= _n_registered_identities() else None
    if names and all((folder / name).is_file() for name in names):
        return folder / _ICT_DIR  # fetched and hash-checked before: not rehashed on every load
    return fetch_ict_facekit(n_identities=n_identities, progress=progress)


def _sha256(file):
    return hashlib.sha256(Path(file).read_bytes()).hexdigest()


def _source_key(folder, region, n_identities):
    """A digest of what a converted model depends on: the ICT files and the converter.

    The neutral, index and licence are hashed; the large shape files are
    keyed by size and modification time, so that a cached load stays fast.
    The converter's own source is hashed too, so a change to how muscles or
    skin are derived never serves a stale model.
    """
    digest = hashlib.sha256()
    spec = dict(format=_CACHE_FORMAT, version=__version__, region=region, n_identities=n_identities)
    parts = [json.dumps(spec, sort_keys=True)]
    for module in (_ict, _calibration, _skin, _model):
        parts.append(_sha256(module.__file__))
    for name in (_ict._NEUTRAL, _ict._INDEX):
        parts.append(f"{name} {_sha256(folder / name)}")
    for licence in (folder / "LICENSE", folder.parent / "LICENSE"):  # where the notice is read
        if licence.is_file():
            parts.append(f"{licence.name} {_sha256(licence)}")
            break
    names = [f"{name}.obj" for name in _ict._expression_names(folder / _ict._INDEX)]
    names += [f"identity{i:03d}.obj" for i in range(n_identities)]
    for name in names:
        stat = (folder / name).stat()
        parts.append(f"{name} {stat.st_size} {stat.st_mtime_ns}")
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def _cache_files(folder, region, n_identities):
    stem = f"{region}-{n_identities}-{_source_key(folder, region, n_identities)[:32]}"
    root = _cache_root() / "ict_face"
    return root / f"{stem}.face.npz", root / f"{stem}.identities.npy"


def _read_cache(face_file, identities_file, n_identities):
    if not (face_file.is_file() and identities_file.is_file()):
        return None
    try:
        face = FaceModel.load(face_file)
        identities = np.load(identities_file, allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None  # damaged: rebuilt and overwritten
    if identities.shape != (n_identities, face.n_vertices, 3) or identities.dtype != np.float64:
        return None
    return face, identities


def _write_cache(face_file, identities_file, face, identities):
    try:
        face_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(identities_file) as handle:
            np.save(handle, identities)
        face.save(face_file)
    except OSError as exc:
        warnings.warn(
            f"Converted ICT-FaceKit model not cached in {face_file.parent} ({exc}); it is still "
            f"returned, and will be rebuilt next time. Set ${_ENV_CACHE} to a writable folder.",
            stacklevel=3,
        )


def load_ict_face(path=None, *, region="face", n_identities=50, progress=True):
    """The ICT-FaceKit face model and identity modes, converted once and cached.

    The first call builds the model from the OBJ files with
    :func:`skbiomech.face.load_ict_facekit` and
    :func:`~skbiomech.face._ict.load_ict_identities` (seconds) and saves a
    compact copy in ``<cache>/ict_face`` (see the module notes); later calls
    read that copy (a tenth of a second). The copy is keyed by the source
    files and the converter's code, so an edited source or a new skbiomech
    rebuilds it; a damaged copy is rebuilt too. The model's ``notice``
    carries ICT-FaceKit's MIT licence, which must accompany its data.

    Parameters
    ----------
    path : str or path-like, default=None
        An ICT-FaceKit ``FaceXModel`` folder (or the checkout holding it);
        default as for :func:`fetch_ict_facekit` (``$SKBIOMECH_ICT_FACEKIT``,
        else the data folder, downloading what is missing).
    region : {"face", "narrow"}, default="face"
        The vertex region, as for :func:`~skbiomech.face.load_ict_facekit`.
    n_identities : int, default=50
        Identity modes to load.
    progress : bool, default=True
        Show a progress bar if files must be downloaded.

    Returns
    -------
    face : FaceModel
    identities : ndarray of shape (n_identities, N, 3)
        Identity offsets on the face's vertices (centimetres): a person's
        neutral face is ``face.vertices + w @ identities`` for weights ``w``.

    Examples
    --------
    >>> from skbiomech.video._fetch import load_ict_face
    >>> face, identities = load_ict_face(n_identities=10)  # doctest: +SKIP
    >>> identities.shape == (10, face.n_vertices, 3)  # doctest: +SKIP
    True
    """
    if not isinstance(region, str) or region not in _ict._REGIONS:
        raise ValueError(f"region must be one of {sorted(_ict._REGIONS)}; got {region!r}.")
    n_identities = _check_n_identities(n_identities)
    folder = _ict_source(path, n_identities, progress)
    face_file, identities_file = _cache_files(folder, region, n_identities)
    cached = _read_cache(face_file, identities_file, n_identities)
    if cached is not None:
        return cached
    face = load_ict_facekit(folder, region)
    identities = load_ict_identities(folder, region, n_identities)
    _write_cache(face_file, identities_file, face, identities)
    return face, identities
