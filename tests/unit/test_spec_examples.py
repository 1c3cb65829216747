"""Pachyderm's own example specs parse unchanged.

Each literal below is the spec of one file under ``examples/`` of the Pachyderm repository
(github.com/pachyderm/pachyderm, Apache-2.0), with its field names, values and shape as the
example has them (camelCase included). The first group uses only features pachstream runs and
must be accepted as is; the second group uses features pachstream does not run and must be
refused with a message naming the field that makes it unsupported:

==============================================================  ================================
example                                                         refused for
==============================================================  ================================
churn/churn.pipeline.json                                       egress (and memory "256MB")
db/query.pipeline.json                                          transform.secrets (also cron)
deferred-processing/.../branch-mover-no-auth.pipeline.json      input.cron
deferred-processing/.../branch-mover.pipeline.json              input.cron (also secrets)
deferred-processing/.../edges_dp.pipeline.json                  output_branch "dev"
opencv/edges-union.pipeline.json                                input.union[1].pfs.project
ml/gpt-2/generate.pipeline.json, train.pipeline.json            resource_limits.gpu
ml/tensorflow/training_and_export_gpu.pipeline.json             resource_limits.gpu
redshift/pipeline.pipeline.json                                 transform.secrets (and no glob)
scraper/scraper.pipeline.json                                   transform.accept_return_code
word_count/pipelines/scraper.pipeline.json                      transform.accept_return_code
spouts/*/pipelines/spout.pipeline.json                          spout
kubeflow/mnist/pipeline.yaml, standalone_pipeline.yaml          s3_out (also input.pfs.s3)
==============================================================  ================================

Not a spec: run/config/pipeline.pipeline.json is a template (``"name": "$PIPELINE_NAME"``).
"""

# ruff: noqa: E501 - the examples' command lines stay whole, as in Pachyderm's files

from __future__ import annotations

import json

import pytest

from pachstream.dispatch.datums import GroupInput, JoinInput, PfsInput, UnionInput
from pachstream.dispatch.spec import parse_spec, parse_specs
from pachstream.errors import InvalidSpec


def every_repo(repo: str) -> bool:
    return True


# examples/word_count/pipelines/map.pipeline.json
WORD_COUNT_MAP = {
    "pipeline": {"name": "map"},
    "description": "A pipeline that tokenizes scraped pages and appends counts of words to corresponding files.",
    "transform": {
        "image": "pachyderm/example-wordcount:2.0.3",
        "cmd": ["app", "/pfs/scraper/", "/pfs/out"],
    },
    "input": {"pfs": {"repo": "scraper", "glob": "/*/*"}},
}

# examples/word_count/pipelines/reduce.pipeline.json
WORD_COUNT_REDUCE = {
    "pipeline": {"name": "reduce"},
    "description": "A pipeline that aggregates the total counts for each word.",
    "transform": {
        "cmd": ["sh"],
        "stdin": [
            "mkdir /tmp/out",
            "set -x",
            "FILES=/pfs/map/*/*",
            "for f in $FILES",
            "do",
            "out=`basename $f`",
            "cat $f >> /tmp/out/${out}",
            "done",
            "find /tmp/out/ -name '*' | while read count; do cat $count | awk '{ sum+=$1} END {print sum}' >/tmp/count; mv /tmp/count /pfs/out/`basename $count`; echo `basename $count`; done",
        ],
    },
    "input": {"pfs": {"repo": "map", "glob": "/"}},
}

# examples/joins/pipelines/inner/inner_join.pipeline.json
INNER_JOIN = {
    "pipeline": {"name": "inner_join"},
    "description": "A pipeline that lists all purchases by zipcode joining stores and purchases information.",
    "input": {
        "join": [
            {
                "pfs": {
                    "repo": "stores",
                    "branch": "master",
                    "glob": "/STOREID(*).txt",
                    "joinOn": "$1",
                }
            },
            {
                "pfs": {
                    "repo": "purchases",
                    "branch": "master",
                    "glob": "/*_STOREID(*).txt",
                    "joinOn": "$1",
                }
            },
        ]
    },
    "transform": {
        "cmd": ["python", "inner/main.py"],
        "image": "pachyderm/example-joins-inner-outer:2.1.0",
    },
}

# examples/joins/pipelines/inner/reduce_inner.pipeline.json
REDUCE_INNER = {
    "pipeline": {"name": "reduce_inner"},
    "description": "A pipeline that consolidates all purchases by zipcode in one file.",
    "input": {"pfs": {"repo": "inner_join", "branch": "master", "glob": "/*"}},
    "transform": {
        "cmd": ["bash"],
        "stdin": [
            "set -x",
            "FILES=/pfs/inner_join/*/*",
            "for f in $FILES",
            "do",
            "directory=`dirname $f`",
            "out=`basename $directory`",
            "cat $f >> /pfs/out/${out}.txt",
            "done",
        ],
    },
}

# examples/joins/pipelines/outer/outer_join.pipeline.json
OUTER_JOIN = {
    "pipeline": {"name": "outer_join"},
    "description": "A pipeline that lists all returns by zipcode joining stores and returns information.",
    "input": {
        "join": [
            {
                "pfs": {
                    "repo": "stores",
                    "branch": "master",
                    "glob": "/STOREID(*).txt",
                    "joinOn": "$1",
                    "outerJoin": True,
                }
            },
            {
                "pfs": {
                    "repo": "returns",
                    "branch": "master",
                    "glob": "/*_STOREID(*).txt",
                    "joinOn": "$1",
                    "outerJoin": True,
                }
            },
        ]
    },
    "transform": {
        "cmd": ["python", "outer/main.py"],
        "image": "pachyderm/example-joins-inner-outer:2.1.0",
    },
}

# examples/joins/pipelines/outer/reduce_outer.pipeline.json
REDUCE_OUTER = {
    "pipeline": {"name": "reduce_outer"},
    "description": "A pipeline that consolidates all purchases by zipcode in one file.",
    "input": {"pfs": {"repo": "outer_join", "branch": "master", "glob": "/*"}},
    "transform": {
        "cmd": ["bash"],
        "stdin": [
            "set -x",
            "FILES=/pfs/outer_join/*/*",
            "for f in $FILES",
            "do",
            "directory=`dirname $f`",
            "out=`basename $directory`",
            "cat $f >> /pfs/out/${out}.txt",
            "done",
        ],
    },
}

# examples/group/pipelines/lab/lab_group_by_hospital.pipeline.json
LAB_GROUP_BY_HOSPITAL = {
    "pipeline": {"name": "group_by_hospital"},
    "description": "A pipeline that groups lab test results files by hospital using the files naming pattern.",
    "input": {
        "group": [
            {
                "pfs": {
                    "repo": "labresults",
                    "branch": "master",
                    "glob": "/*-CLIA(*).txt",
                    "groupBy": "$1",
                }
            }
        ]
    },
    "transform": {
        "cmd": ["bash"],
        "stdin": [
            "mkdir -p /pfs/out/${PACH_DATUM_labresults_GROUP_BY}/",
            "cp /pfs/labresults/* /pfs/out/${PACH_DATUM_labresults_GROUP_BY}/",
        ],
    },
}

# examples/group/pipelines/lab/lab_group_by_patient.pipeline.json
LAB_GROUP_BY_PATIENT = {
    "pipeline": {"name": "group_by_patient"},
    "description": "A pipeline that groups lab test results files by patient using the files naming pattern.",
    "input": {
        "group": [
            {
                "pfs": {
                    "repo": "labresults",
                    "branch": "master",
                    "glob": "/*-PATID(*)-*.txt",
                    "groupBy": "$1",
                }
            }
        ]
    },
    "transform": {
        "cmd": ["bash"],
        "stdin": [
            "mkdir -p /pfs/out/${PACH_DATUM_labresults_GROUP_BY}/",
            "cp /pfs/labresults/* /pfs/out/${PACH_DATUM_labresults_GROUP_BY}/",
        ],
    },
}

# examples/group/pipelines/lab/reduce_group_by_hospital.pipeline.json
REDUCE_GROUP_BY_HOSPITAL = {
    "pipeline": {"name": "reduce_group_by_hospital"},
    "description": "A pipeline that consolidates all lab results by hospital in one file.",
    "input": {"pfs": {"repo": "group_by_hospital", "branch": "master", "glob": "/*"}},
    "transform": {
        "cmd": ["bash"],
        "stdin": [
            "set -x",
            "FILES=/pfs/group_by_hospital/*/*",
            "for f in $FILES",
            "do",
            "directory=`dirname $f`",
            "out=`basename $directory`",
            "cat $f >> /pfs/out/${out}.txt",
            "done",
        ],
    },
}

# examples/group/pipelines/lab/reduce_group_by_patient.pipeline.json
REDUCE_GROUP_BY_PATIENT = {
    "pipeline": {"name": "reduce_group_by_patient"},
    "description": "A pipeline that consolidates all lab results by patient in one file.",
    "input": {"pfs": {"repo": "group_by_patient", "branch": "master", "glob": "/*"}},
    "transform": {
        "cmd": ["bash"],
        "stdin": [
            "set -x",
            "FILES=/pfs/group_by_patient/*/*",
            "for f in $FILES",
            "do",
            "directory=`dirname $f`",
            "out=`basename $directory`",
            "cat $f >> /pfs/out/${out}.txt",
            "done",
        ],
    },
}

# examples/group/pipelines/retail/retail_group.pipeline.json
RETAIL_GROUP = {
    "pipeline": {"name": "group_store_revenue"},
    "description": "A pipeline that groups purchases and returns by storeId to calculate the gross_revenue minus returns of each store.",
    "input": {
        "group": [
            {
                "pfs": {
                    "repo": "stores",
                    "branch": "master",
                    "glob": "/STOREID(*).txt",
                    "groupBy": "$1",
                }
            },
            {
                "pfs": {
                    "repo": "purchases",
                    "branch": "master",
                    "glob": "/*_STOREID(*).txt",
                    "groupBy": "$1",
                }
            },
            {
                "pfs": {
                    "repo": "returns",
                    "branch": "master",
                    "glob": "/*_STOREID(*).txt",
                    "groupBy": "$1",
                }
            },
        ]
    },
    "transform": {"cmd": ["python", "main.py"], "image": "pachyderm/example-group:2.1.0"},
}

# examples/opencv/edges.pipeline.json
OPENCV_EDGES = {
    "pipeline": {"name": "edges"},
    "description": "A pipeline that performs image edge detection by using the OpenCV library.",
    "input": {"pfs": {"glob": "/*", "repo": "images"}},
    "transform": {"cmd": ["python3", "/edges.py"], "image": "pachyderm/opencv:1.0"},
}

# examples/opencv/montage.pipeline.json
OPENCV_MONTAGE = {
    "pipeline": {"name": "montage"},
    "description": "A pipeline that combines images from the `images` and `edges` repositories into a montage.",
    "input": {
        "cross": [{"pfs": {"glob": "/", "repo": "images"}}, {"pfs": {"glob": "/", "repo": "edges"}}]
    },
    "transform": {
        "cmd": ["sh"],
        "image": "dpokidov/imagemagick:7.1.0-23",
        "stdin": [
            "montage -shadow -background SkyBlue -geometry 300x300+2+2 $(find -L /pfs/images /pfs/edges -type f | sort) /pfs/out/montage.png"
        ],
    },
}

# examples/shuffle/shuffle.pipeline.json
SHUFFLE = {
    "input": {
        "union": [
            {"pfs": {"glob": "/*.jpeg", "repo": "fruits", "emptyFiles": True}},
            {"pfs": {"glob": "/*.json", "repo": "pricing", "emptyFiles": True}},
        ]
    },
    "pipeline": {"name": "shuffle"},
    "description": "A pipeline that places files with a matching name pattern and stored in separate repositories to a corresponding folder in the output repository.",
    "transform": {
        "image": "ubuntu:20.04",
        "cmd": ["/bin/bash"],
        "stdin": [
            "echo 'process fruits if any'",
            "fn=$(find  -L /pfs -not -path \"*/\\.*\"  -type f \\( -path '*/fruits/*' \\))",
            "for f in $fn; do fruit_name=$(basename $f .jpeg); mkdir -p /pfs/out/$fruit_name/; ln -s $f /pfs/out/$fruit_name/img.jpeg; done",
            "echo 'process pricing if any'",
            "fn=$(find  -L /pfs -not -path \"*/\\.*\"  -type f \\( -path '*/pricing/*' \\))",
            "for f in $fn; do fruit_name=$(basename $f .json); mkdir -p /pfs/out/$fruit_name/; ln -s $f /pfs/out/$fruit_name/cost.json; done",
        ],
    },
}

# examples/globalID/pipelines/edges.pipeline.json
GLOBALID_EDGES = {
    "pipeline": {"name": "edges"},
    "description": "A pipeline that performs image edge detection by using the OpenCV library.",
    "input": {"pfs": {"glob": "/*", "repo": "images"}},
    "transform": {"cmd": ["python3", "/edges.py"], "image": "pachyderm/opencv"},
}

# examples/globalID/pipelines/montage.pipeline.json
GLOBALID_MONTAGE = {
    "pipeline": {"name": "montage"},
    "description": "A pipeline that combines images from the `images` and `edges` repositories into a montage.",
    "input": {
        "cross": [{"pfs": {"glob": "/", "repo": "images"}}, {"pfs": {"glob": "/", "repo": "edges"}}]
    },
    "transform": {
        "cmd": ["sh"],
        "image": "dpokidov/imagemagick:7.0.10-58",
        "stdin": [
            "montage -shadow -background SkyBlue -geometry 300x300+2+2 $(find /pfs -type f | sort) /pfs/out/montage.png"
        ],
    },
}

# examples/deferred-processing/deferred_processing_plus_transactions/montage_dp.pipeline.json
MONTAGE_DP = {
    "pipeline": {"name": "montage_dp"},
    "input": {
        "cross": [
            {"pfs": {"glob": "/", "repo": "images_dp_2"}},
            {"pfs": {"glob": "/", "repo": "edges_dp"}},
        ]
    },
    "transform": {
        "cmd": ["sh"],
        "image": "v4tech/imagemagick",
        "stdin": [
            "montage -shadow -background SkyBlue -geometry 300x300+2+2 $(find /pfs -type f | sort) /pfs/out/montage.png"
        ],
    },
}

# examples/gatk/joint-call.pipeline.json
GATK_JOINT_CALL = {
    "pipeline": {"name": "joint_call"},
    "description": "A pipeline that performs joint genotyping of multiple samples.",
    "transform": {
        "image": "broadinstitute/gatk3:3.8-0",
        "cmd": ["/bin/bash"],
        "stdin": [
            'files=""',
            "for f in /pfs/likelihoods/*",
            "do",
            'filename=$(basename "$f")',
            'extension="${filename##*.}"',
            "echo $extension",
            'if [ "$extension" == "vcf" ]',
            "then",
            'files="$files -V $f"',
            "fi",
            "done",
            "java -jar /usr/GenomeAnalysisTK.jar -T GenotypeGVCFs -R /pfs/reference/ref.fasta $files -o /pfs/out/joint.vcf -L 20:10,000,000-10,200,000",
        ],
    },
    "parallelismSpec": {"constant": 1},
    "input": {
        "cross": [
            {"pfs": {"repo": "reference", "glob": "/"}},
            {"pfs": {"repo": "likelihoods", "glob": "/"}},
        ]
    },
}

# examples/gatk/likelihoods.pipeline.json
GATK_LIKELIHOODS = {
    "pipeline": {"name": "likelihoods"},
    "description": "A pipeline that calls variants for the input samples and generates genotype likelihoods.",
    "transform": {
        "image": "broadinstitute/gatk3:3.8-0",
        "cmd": ["/bin/bash"],
        "stdin": [
            "for f in $samples/*",
            "do",
            'filename=$(basename "$f")',
            'extension="${filename##*.}"',
            'if [ "$extension" == "bam" ]',
            "then",
            'filename="${filename%.*}"',
            "cd $samples",
            "java -jar /usr/GenomeAnalysisTK.jar -T HaplotypeCaller -R /pfs/reference/ref.fasta -I $filename.bam -o /pfs/out/$filename.g.vcf -ERC GVCF -L 20:10,000,000-10,200,000",
            "fi",
            "done",
        ],
    },
    "parallelismSpec": {"constant": 1},
    "input": {
        "cross": [
            {"pfs": {"repo": "reference", "glob": "/"}},
            {"pfs": {"repo": "samples", "glob": "/*"}},
        ]
    },
}

# examples/ml/gpt-2/tweets.pipeline.json
GPT2_TWEETS = {
    "pipeline": {"name": "tweets"},
    "description": "A pipeline that scrapes tweets from https://twitter.com.",
    "transform": {"image": "pachyderm/gpt-2-example", "cmd": ["/tweets.py"]},
    "input": {"pfs": {"repo": "queries", "glob": "/*"}},
}

# examples/ml/housing-prices/regression.pipeline.json
HOUSING_REGRESSION = {
    "pipeline": {"name": "regression"},
    "description": "A pipeline that trains produces a regression model for housing prices.",
    "input": {"pfs": {"glob": "/*", "repo": "housing_data"}},
    "transform": {
        "cmd": [
            "python",
            "regression.py",
            "--input",
            "/pfs/housing_data/",
            "--target-col",
            "MEDV",
            "--output",
            "/pfs/out/",
        ],
        "image": "pachyderm/housing-prices:1.11.0",
    },
}

# examples/ml/hyperparameter/model.pipeline.json
HYPERPARAMETER_MODEL = {
    "pipeline": {"name": "model"},
    "description": "A pipeline that trains the model for each combination of C and Gamma parameters.",
    "transform": {
        "image": "pachyderm/iris-train:python-svm-adj-c-gamma",
        "cmd": ["/bin/ash"],
        "stdin": [
            "cp /pfs/raw_data/iris.csv /tmp/iris.csv",
            "for cf in /pfs/c-parameters/c_parameters.txt/*",
            "do",
            "for gf in /pfs/gamma-parameters/gamma_parameters.txt/*",
            "do",
            "cparam=`cat $cf`",
            "gammaparam=`cat $gf`",
            "python /code/pytrain.py /tmp/ /pfs/out/ $cparam $gammaparam",
            "done",
            "done",
        ],
    },
    "parallelismSpec": {"constant": 1},
    "input": {
        "cross": [
            {"pfs": {"repo": "raw_data", "glob": "/iris.csv"}},
            {"pfs": {"name": "c-parameters", "repo": "parameters", "glob": "/c_parameters.txt/*"}},
            {
                "pfs": {
                    "name": "gamma-parameters",
                    "repo": "parameters",
                    "glob": "/gamma_parameters.txt/*",
                }
            },
        ]
    },
}

# examples/ml/hyperparameter/select.pipeline.json
HYPERPARAMETER_SELECT = {
    "pipeline": {"name": "select"},
    "description": "A pipeline that selects the best evaluation metrics from the results of the `test` pipeline.",
    "transform": {
        "image": "dianoga/docker-ubuntu-jq-curl-bc",
        "cmd": ["/bin/bash"],
        "stdin": [
            "bestmetric=0.0",
            "for f in /pfs/test/*",
            "do",
            "metric=`cat $f`",
            "if [ `echo $metric'>='$bestmetric | bc -l` -eq 1 ]",
            "then",
            "bestmetric=$metric",
            "fi",
            "done",
            "for model in /pfs/model/*",
            "do",
            'modelfile=$(basename "$model")',
            "modelfile=${modelfile::-4}",
            'metricfile="_metric.txt"',
            "metricfile=$modelfile$metricfile",
            "metric=`cat /pfs/test/$metricfile`",
            "if [ $metric == $bestmetric ]",
            "then",
            "ln -s $model /pfs/out/$modelfile.pkl",
            "fi",
            "done",
        ],
    },
    "parallelismSpec": {"constant": 1},
    "input": {
        "cross": [{"pfs": {"repo": "test", "glob": "/"}}, {"pfs": {"repo": "model", "glob": "/"}}]
    },
}

# examples/ml/hyperparameter/split.pipeline.json
HYPERPARAMETER_SPLIT = {
    "pipeline": {"name": "split"},
    "description": "A pipeline that splits the `iris` data set into the `training` and `test` data sets.",
    "transform": {
        "cmd": ["/bin/bash"],
        "stdin": [
            "shuf /pfs/raw_data/iris.csv > /tmp/iris_shuffled.csv",
            "head -n80 /tmp/iris_shuffled.csv > /pfs/out/train.csv",
            "tail -n20 /tmp/iris_shuffled.csv > /pfs/out/test.csv",
        ],
    },
    "parallelismSpec": {"constant": 1},
    "input": {"pfs": {"repo": "raw_data", "glob": "/"}},
}

# examples/ml/hyperparameter/test.pipeline.json
HYPERPARAMETER_TEST = {
    "pipeline": {"name": "test"},
    "description": "A pipeline that scores each of the trained models.",
    "transform": {
        "image": "pachyderm/iris-evaluate",
        "cmd": ["/bin/ash"],
        "stdin": [
            "for f in /pfs/model/*",
            "do",
            'filename=$(basename "$f")',
            "extension=`echo $filename | tail -c 4`",
            'if [ "$extension" == "pkl" ]',
            "then",
            "python3 /code/evaluate.py $f /pfs/split/test.csv /pfs/out/",
            "fi",
            "done",
        ],
    },
    "parallelismSpec": {"constant": 1},
    "input": {
        "cross": [
            {"pfs": {"repo": "split", "glob": "/test.csv"}},
            {"pfs": {"repo": "model", "glob": "/*"}},
        ]
    },
}

# examples/ml/iris/julia_infer.pipeline.json
IRIS_JULIA_INFER = {
    "pipeline": {"name": "inference"},
    "description": "An inference pipeline that makes a prediction based on the trained model by using a Julia script.",
    "transform": {
        "image": "pachyderm/iris-infer:julia",
        "cmd": ["julia", "/infer.jl", "/pfs/model/model.jld", "/pfs/attributes/", "/pfs/out/"],
    },
    "parallelismSpec": {"constant": 1},
    "input": {
        "cross": [
            {"pfs": {"repo": "attributes", "glob": "/*"}},
            {"pfs": {"repo": "model", "glob": "/"}},
        ]
    },
}

# examples/ml/iris/julia_train.pipeline.json
IRIS_JULIA_TRAIN = {
    "pipeline": {"name": "model"},
    "description": "A pipeline that trains the model based on the data in the `training` repository by using a Julia script.",
    "transform": {
        "image": "pachyderm/iris-train:julia-tree",
        "cmd": ["julia", "/train.jl", "/pfs/training/iris.csv", "/pfs/out/model.jld"],
    },
    "parallelismSpec": {"constant": 1},
    "input": {"pfs": {"repo": "training", "glob": "/"}},
}

# examples/ml/iris/python_infer.pipeline.json
IRIS_PYTHON_INFER = {
    "pipeline": {"name": "inference"},
    "description": "An inference pipeline that makes a prediction based on the trained model by using a Python script.",
    "transform": {
        "image": "pachyderm/iris-infer:python",
        "cmd": ["python3", "/code/pyinfer.py", "/pfs/model/", "/pfs/attributes/", "/pfs/out/"],
    },
    "parallelismSpec": {"constant": 1},
    "input": {
        "cross": [
            {"pfs": {"repo": "attributes", "glob": "/*"}},
            {"pfs": {"repo": "model", "glob": "/"}},
        ]
    },
}

# examples/ml/iris/python_train.pipeline.json
IRIS_PYTHON_TRAIN = {
    "pipeline": {"name": "model"},
    "description": "A pipeline that trains the model based on the data in the `training` repository by using a Python script.",
    "transform": {
        "image": "pachyderm/iris-train:python-svm",
        "cmd": ["python3", "/code/pytrain.py", "/pfs/training/", "/pfs/out/"],
    },
    "parallelismSpec": {"constant": 1},
    "input": {"pfs": {"repo": "training", "glob": "/"}},
}

# examples/ml/iris/rstats_infer.pipeline.json
IRIS_RSTATS_INFER = {
    "pipeline": {"name": "inference"},
    "description": "An inference pipeline that makes a prediction based on the trained model by using an R script.",
    "transform": {"image": "pachyderm/iris-infer:rstats", "cmd": ["Rscript", "infer.R"]},
    "parallelismSpec": {"constant": 1},
    "input": {
        "cross": [
            {"pfs": {"repo": "attributes", "glob": "/*"}},
            {"pfs": {"repo": "model", "glob": "/"}},
        ]
    },
}

# examples/ml/iris/rstats_train.pipeline.json
IRIS_RSTATS_TRAIN = {
    "pipeline": {"name": "model"},
    "description": "A pipeline that trains the model based on the data in the `training` repository by using an R script.",
    "transform": {"image": "pachyderm/iris-train:rstats-svm", "cmd": ["Rscript", "train.R"]},
    "parallelismSpec": {"constant": 1},
    "input": {"pfs": {"repo": "training", "glob": "/"}},
}

# examples/ml/neon/infer.pipeline.json
NEON_INFER = {
    "pipeline": {"name": "inference"},
    "description": "An inference pipeline that makes a prediction based on the trained model and the data in the `reviews` repo.",
    "transform": {
        "image": "dwhitena/neon-inference",
        "cmd": [
            "python",
            "examples/imdb/auto_inference.py",
            "--model_weights",
            "/pfs/model/imdb.p",
            "--vocab_file",
            "/pfs/model/imdb.vocab",
            "--review_files",
            "/pfs/reviews",
            "--output_dir",
            "/pfs/out",
        ],
    },
    "parallelismSpec": {"constant": 2},
    "input": {
        "cross": [
            {"pfs": {"repo": "reviews", "glob": "/*"}},
            {"pfs": {"repo": "model", "glob": "/"}},
        ]
    },
}

# examples/ml/neon/train.pipeline.json
NEON_TRAIN = {
    "pipeline": {"name": "model"},
    "description": "A pipeline that uses the data in the `training` repository to train the model.",
    "transform": {
        "image": "kaixhin/neon",
        "cmd": [
            "python",
            "examples/imdb/train.py",
            "-f",
            "/pfs/training/labeledTrainData.tsv",
            "-e",
            "2",
            "-eval",
            "1",
            "-s",
            "/pfs/out/imdb.p",
            "--vocab_file",
            "/pfs/out/imdb.vocab",
        ],
    },
    "parallelismSpec": {"constant": 1},
    "input": {"pfs": {"repo": "training", "glob": "/"}},
}

# examples/ml/tensorflow/pre-processing_and_generation.pipeline.json (two documents separated by ---)
TENSORFLOW_PREPROCESSING_AND_GENERATION = [
    {
        "pipeline": {"name": "preprocess_images"},
        "description": "A pipeline that pre-processes input images and generates final images by combining the preposessed images with the trained data in the `model` repository.",
        "transform": {
            "image": "dwhitena/pix2pix",
            "cmd": ["/bin/bash"],
            "stdin": [
                "python process.py --input_dir /pfs/input_images --operation resize --output_dir /pfs/out"
            ],
        },
        "input": {"pfs": {"repo": "input_images", "glob": "/*"}},
    },
    {
        "pipeline": {"name": "generate_images"},
        "transform": {
            "image": "dwhitena/pix2pix",
            "cmd": ["/bin/bash"],
            "stdin": [
                "for filename in /pfs/preprocess_images/*; do",
                "rawname=$(basename $filename)",
                "python process-local.py --model_dir /pfs/model --input_file $filename --output_file /pfs/out/$rawname",
                "done",
            ],
        },
        "input": {
            "cross": [
                {"pfs": {"repo": "preprocess_images", "glob": "/*"}},
                {"pfs": {"repo": "model", "glob": "/"}},
            ]
        },
    },
]

# examples/ml/tensorflow/training_and_export.pipeline.json (two documents separated by ---)
TENSORFLOW_TRAINING_AND_EXPORT = [
    {
        "pipeline": {"name": "checkpoint"},
        "description": "A pipeline that performs image-to-image translation first in `training` and then in `export` mode.",
        "transform": {
            "image": "dwhitena/pix2pix",
            "cmd": ["/bin/bash"],
            "stdin": [
                "python pix2pix.py --mode train --output_dir /pfs/out --max_epochs 1 --input_dir /pfs/training --which_direction BtoA",
                "sed -i 's/out/checkpoint/g' /pfs/out/checkpoint",
            ],
        },
        "parallelismSpec": {"constant": 1},
        "input": {"pfs": {"repo": "training", "glob": "/"}},
    },
    {
        "pipeline": {"name": "model"},
        "transform": {
            "image": "dwhitena/pix2pix",
            "cmd": ["/bin/bash"],
            "stdin": [
                "python pix2pix.py --mode export --output_dir /pfs/out --checkpoint /pfs/checkpoint",
                "sed -i 's/out/model/g' /pfs/out/checkpoint",
            ],
        },
        "parallelismSpec": {"constant": 1},
        "input": {"pfs": {"repo": "checkpoint", "glob": "/"}},
    },
]

# examples/spark/pi/estimate_pi.pipeline.json
SPARK_ESTIMATE_PI = {
    "pipeline": {"name": "estimate_pi"},
    "description": "A pipeline that initiates a Spark job from within a Pachyderm job.",
    "transform": {
        "cmd": ["spark-submit", "/home/estimate_pi.py"],
        "image": "pachyderm/estimate-pi-spark:0.3",
    },
    "parallelismSpec": {"constant": 1},
    "input": {"pfs": {"repo": "estimate_pi_config", "glob": "/num_samples"}},
}

# examples/spouts/spout101/pipelines/processor.pipeline.json
SPOUT101_PROCESSOR = {
    "pipeline": {"name": "processor"},
    "description": "A pipeline that sorts 1KB vs 2KB files",
    "input": {"pfs": {"repo": "spout", "branch": "master", "glob": "/*"}},
    "transform": {
        "cmd": ["python", "processor/main.py"],
        "image": "pachyderm/example-spout101:2.0.1",
    },
}

# examples/transactions/model.pipeline.json
TRANSACTIONS_MODEL = {
    "pipeline": {"name": "model"},
    "description": "A pipeline that trains the model for each combinataion of C and Gamma parameters.",
    "transform": {
        "image": "pachyderm/iris-train:python-svm-adj-c-gamma",
        "cmd": ["/bin/ash"],
        "stdin": [
            "cp /pfs/raw_data/iris.csv /tmp/iris.csv",
            "for cf in /pfs/c-parameters/c_parameters/*",
            "do",
            "for gf in /pfs/gamma-parameters/gamma_parameters/*",
            "do",
            "cparam=`cat $cf`",
            "gammaparam=`cat $gf`",
            "python /code/pytrain.py /tmp/ /pfs/out/ $cparam $gammaparam",
            "done",
            "done",
        ],
    },
    "parallelismSpec": {"constant": 1},
    "input": {
        "cross": [
            {"pfs": {"repo": "raw_data", "glob": "/iris.csv"}},
            {"pfs": {"name": "c-parameters", "repo": "parameters", "glob": "/c_parameters/*"}},
            {
                "pfs": {
                    "name": "gamma-parameters",
                    "repo": "parameters",
                    "glob": "/gamma_parameters/*",
                }
            },
        ]
    },
}

# ----------------------------------------------------------------- refused examples

# examples/churn/churn.pipeline.json
CHURN = {
    "pipeline": {"name": "churn"},
    "description": "A pipeline to predict user churn.",
    "transform": {"image": "pachyderm/churn", "cmd": ["python", "/churn.py"]},
    "input": {"pfs": {"repo": "customer", "glob": "/*"}},
    "resourceLimits": {"memory": "256MB", "cpu": 1},
    "resourceRequests": {"memory": "256MB", "cpu": 1},
    "egress": {
        "sqlDatabase": {
            "url": "snowflake://<username>@<account>/<database>/PUBLIC?warehouse=COMPUTE_WH",
            "fileFormat": {"type": "CSV"},
            "secret": {"name": "snowflakesecret", "key": "PACHYDERM_SQL_PASSWORD"},
        }
    },
}

# examples/db/query.pipeline.json
DB_QUERY = {
    "pipeline": {"name": "query"},
    "description": "A pipeline that queries a MongoDB database located outside of Pachyderm.",
    "transform": {
        "image": "mongo",
        "cmd": ["/bin/bash"],
        "stdin": [
            "export uri=$(cat /tmp/mongosecret/uri)",
            "export db=$(cat /tmp/mongosecret/db)",
            "export collection=$(cat /tmp/mongosecret/collection)",
            "export username=$(cat /tmp/mongosecret/username)",
            "export password=$(cat /tmp/mongosecret/password)",
            'mongo "$uri" --authenticationDatabase admin --ssl --username $username --password $password --quiet --eval \'db.restaurants.aggregate({ $sample: { size: 1 } });\' | tail -n1 | egrep -v "^>|^bye" > /pfs/out/output.json',
        ],
        "secrets": [{"name": "mongosecret", "mountPath": "/tmp/mongosecret"}],
    },
    "input": {"cron": {"name": "tick", "spec": "@every 10s"}},
}

# examples/deferred-processing/automated_deferred_processing/branch-mover-no-auth.pipeline.json
BRANCH_MOVER_NO_AUTH = {
    "pipeline": {"name": "branch-mover"},
    "input": {"cron": {"name": "tick", "spec": "@every 1m", "overwrite": True}},
    "transform": {
        "cmd": ["sh"],
        "stdin": [
            'echo \'{"pachd_address": "grpc://pachd:650"}\' | pachctl config set context default --overwrite',
            "pachctl create branch edges_dp@master --head dev",
        ],
        "image": "pachyderm/pachctl:1.11.0",
    },
}

# examples/deferred-processing/automated_deferred_processing/branch-mover.pipeline.json
BRANCH_MOVER = {
    "pipeline": {"name": "branch-mover"},
    "input": {"cron": {"name": "tick", "spec": "@every 1m", "overwrite": True}},
    "transform": {
        "cmd": ["sh"],
        "stdin": [
            'echo \'{"pachd_address": "grpc://pachd:650"}\' | pachctl config set context default --overwrite',
            "echo ${PACHYDERM_AUTH_TOKEN} | pachctl auth use-auth-token",
            "pachctl create branch edges_dp@master --head dev",
        ],
        "image": "pachyderm/pachctl:1.11.0",
        "secrets": [
            {"name": "pachyderm-user-secret", "envVar": "PACHYDERM_AUTH_TOKEN", "key": "auth_token"}
        ],
    },
}

# examples/deferred-processing/deferred_processing_plus_transactions/edges_dp.pipeline.json
EDGES_DP = {
    "pipeline": {"name": "edges_dp"},
    "input": {"pfs": {"glob": "/*", "repo": "images_dp_1", "name": "images"}},
    "outputBranch": "dev",
    "transform": {"cmd": ["python3", "/edges.py"], "image": "pachyderm/opencv"},
}

# examples/opencv/edges-union.pipeline.json
OPENCV_EDGES_UNION = {
    "pipeline": {"name": "edges"},
    "description": "A union pipeline that performs image edge detection by using the OpenCV library.",
    "input": {
        "union": [
            {"pfs": {"glob": "/*", "repo": "images"}},
            {"pfs": {"glob": "/*", "repo": "images", "project": "staging"}},
        ]
    },
    "transform": {"cmd": ["python3", "/edges.py"], "image": "pachyderm/opencv:1.0"},
}

# examples/ml/gpt-2/generate.pipeline.json
GPT2_GENERATE = {
    "pipeline": {"name": "generate"},
    "description": "A pipeline that generates tweets based on the trained model.",
    "transform": {"image": "pachyderm/gpt-2-example", "cmd": ["/generate.py"]},
    "input": {"pfs": {"repo": "train", "glob": "/*"}},
    "resourceLimits": {"gpu": {"type": "nvidia.com/gpu", "number": 1}, "memory": "10G", "cpu": 1},
    "resourceRequests": {"memory": "10G", "cpu": 1},
    "autoscaling": True,
}

# examples/ml/gpt-2/train.pipeline.json
GPT2_TRAIN = {
    "pipeline": {"name": "train"},
    "description": "A pipeline that trains the ML model on the tweets gathered by the `tweets` pipeline.",
    "transform": {"image": "pachyderm/gpt-2-example", "cmd": ["/train.py"]},
    "input": {"pfs": {"repo": "tweets", "glob": "/*"}},
    "resourceLimits": {"gpu": {"type": "nvidia.com/gpu", "number": 1}, "memory": "10G", "cpu": 1},
    "resourceRequests": {"memory": "10G", "cpu": 1},
    "autoscaling": True,
}

# examples/ml/tensorflow/training_and_export_gpu.pipeline.json (two documents separated by ---)
TENSORFLOW_TRAINING_AND_EXPORT_GPU = [
    {
        "pipeline": {"name": "checkpoint"},
        "description": "A pipeline that performs image-to-image translation first in `training` and then in `export` mode.",
        "transform": {
            "image": "dwhitena/pix2pix",
            "cmd": ["/bin/bash"],
            "stdin": [
                "python pix2pix.py --mode train --output_dir /pfs/out --max_epochs 1 --input_dir /pfs/training --which_direction BtoA",
                "sed -i 's/out/checkpoint/g' /pfs/out/checkpoint",
            ],
            "env": {
                "LD_LIBRARY_PATH": "/usr/lib/nvidia:/usr/local/cuda/lib64:/rootfs/usr/lib/x86_64-linux-gnu"
            },
        },
        "resourceLimits": {"memory": "4.0G", "cpu": 2, "gpu": {"number": 1}},
        "parallelismSpec": {"constant": 1},
        "input": {"pfs": {"repo": "training", "glob": "/"}},
    },
    {
        "pipeline": {"name": "model"},
        "transform": {
            "image": "dwhitena/pix2pix",
            "cmd": ["/bin/bash"],
            "stdin": [
                "python pix2pix.py --mode export --output_dir /pfs/out --checkpoint /pfs/checkpoint",
                "sed -i 's/out/model/g' /pfs/out/checkpoint",
            ],
        },
        "parallelismSpec": {"constant": 1},
        "input": {"pfs": {"repo": "checkpoint", "glob": "/"}},
    },
]

# examples/redshift/pipeline.pipeline.json
REDSHIFT = {
    "pipeline": {"name": "upload_to_redshift"},
    "input": {"pfs": {"repo": "data"}},
    "transform": {
        "image": "msteffenpachyderm/to_sql",
        "cmd": ["/bin/sh"],
        "stdin": [
            "chmod 600  '/secrets/pgpass/pgpass'",
            "cat /pfs/input | to_sql ${REDSHIFT_TABLE} | psql -w -h ${REDSHIFT_ENDPOINT} -U ${REDSHIFT_USER} -p ${REDSHIFT_PORT} -d ${REDSHIFT_DB}",
        ],
        "env": {
            "PGPASSFILE": "/secrets/pgpass/pgpass",
            "REDSHIFT_ENDPOINT": "redshift-test.caz8kuesomc0.us-west-2.redshift.amazonaws.com",
            "REDSHIFT_USER": "testuser",
            "REDSHIFT_PORT": "5439",
            "REDSHIFT_DB": "dev",
            "REDSHIFT_TABLE": "main_table",
        },
        "secrets": [{"name": "pgpass-secret", "mountPath": "/secrets/pgpass"}],
    },
    "parallelismSpec": {"constant": 1},
}

# examples/scraper/scraper.pipeline.json
SCRAPER = {
    "pipeline": {"name": "scraper"},
    "transform": {
        "cmd": ["sh"],
        "stdin": [
            "apt-get update -yq && apt-get install -yq --no-install-recommends ca-certificates wget",
            "wget --recursive --level 1 --accept jpg,jpeg,png,gif,bmp --page-requisites --adjust-extension --span-hosts --no-check-certificate --timestamping --directory-prefix /pfs/out --input-file /pfs/urls/urls",
        ],
        "acceptReturnCode": [4, 5, 6, 7, 8],
    },
    "parallelismSpec": {"constant": 1},
    "input": {
        "cross": [
            {"pfs": {"glob": "urls/*", "repo": "urls"}},
            {"cron": {"name": "tick", "spec": "@every 1m"}},
        ]
    },
}

# examples/word_count/pipelines/scraper.pipeline.json
WORD_COUNT_SCRAPER = {
    "pipeline": {"name": "scraper"},
    "description": "A pipeline that pulls content from a specified Internet source.",
    "transform": {
        "cmd": ["bash"],
        "stdin": [
            "apt-get update -yq && apt-get install -yq --no-install-recommends ca-certificates wget",
            "FILES=/pfs/urls/*",
            "for f in $FILES",
            "do",
            "wget -e robots=off --adjust-extension --no-check-certificate --no-directories --directory-prefix /pfs/out/$(basename $f) $(cat $f)",
            "done",
        ],
        "acceptReturnCode": [4, 5, 6, 7, 8],
    },
    "input": {"pfs": {"repo": "urls", "glob": "/*"}},
}

# examples/spouts/go-rabbitmq-spout/pipelines/spout.pipeline.json
RABBITMQ_SPOUT = {
    "pipeline": {"name": "rabbitmq-spout"},
    "spout": {},
    "description": "A spout that reads from rabbitmq and writes files to a repo",
    "transform": {
        "cmd": ["/bin/app", "-topic", "test-topic", "-overwrite", "true"],
        "image": "pachyderm/example-rabbitmq-spout:1.12.2",
        "env": {
            "PREFETCH": "2000",
            "FLUSH_INTERVAL_MS": "10000",
            "SWITCH_INTERVAL_MS": "60000",
            "EXTENSION": "ndjson",
            "TEST": "false",
            "RABBITMQ_HOST": "rabbitmq.default.svc.cluster.local:5672",
            "RABBITMQ_USER": "peter",
            "RABBITMQ_PROTOCOL": "amqps",
            "SWITCH_BRANCH": "master",
            "COMMIT_BRANCH": "staging",
        },
        "secrets": [
            {"name": "rabbitmq-password", "key": "rabbitmq-password", "envVar": "RABBITMQ_PASSWORD"}
        ],
    },
}

# examples/spouts/spout101/pipelines/spout.pipeline.json
SPOUT101_SPOUT = {
    "pipeline": {"name": "spout"},
    "spout": {},
    "description": "A spout pipeline that emulates the reception of data from an external source",
    "transform": {
        "cmd": ["python", "consumer/main.py"],
        "image": "pachyderm/example-spout101:2.0.1",
    },
}

# examples/kubeflow/mnist/pipeline.yaml
KUBEFLOW_MNIST = {
    "pipeline": {"name": "mnist"},
    "transform": {"image": "pachyderm/mnist_pipeline:v1.0.1", "cmd": ["/app/pipeline.py"]},
    "s3_out": True,
    "input": {"pfs": {"name": "input", "repo": "input-repo", "glob": "/", "s3": True}},
}

# examples/kubeflow/mnist/standalone_pipeline.yaml
KUBEFLOW_MNIST_STANDALONE = {
    "pipeline": {"name": "trigger-mnist"},
    "transform": {
        "image": "pachyderm/mnist_pipeline:v1.0.1",
        "cmd": ["/app/pipeline.py", "--create-run-in=mnist_pipeline"],
    },
    "s3_out": True,
    "input": {"pfs": {"name": "input", "repo": "input-repo", "glob": "/", "s3": True}},
}

# ---------------------------------------------------------------------------------- tests

ACCEPTED = {
    "word_count/map": WORD_COUNT_MAP,
    "word_count/reduce": WORD_COUNT_REDUCE,
    "joins/inner_join": INNER_JOIN,
    "joins/reduce_inner": REDUCE_INNER,
    "joins/outer_join": OUTER_JOIN,
    "joins/reduce_outer": REDUCE_OUTER,
    "group/lab_group_by_hospital": LAB_GROUP_BY_HOSPITAL,
    "group/lab_group_by_patient": LAB_GROUP_BY_PATIENT,
    "group/reduce_group_by_hospital": REDUCE_GROUP_BY_HOSPITAL,
    "group/reduce_group_by_patient": REDUCE_GROUP_BY_PATIENT,
    "group/retail_group": RETAIL_GROUP,
    "opencv/edges": OPENCV_EDGES,
    "opencv/montage": OPENCV_MONTAGE,
    "shuffle": SHUFFLE,
    "globalID/edges": GLOBALID_EDGES,
    "globalID/montage": GLOBALID_MONTAGE,
    "deferred-processing/montage_dp": MONTAGE_DP,
    "gatk/joint-call": GATK_JOINT_CALL,
    "gatk/likelihoods": GATK_LIKELIHOODS,
    "ml/gpt-2/tweets": GPT2_TWEETS,
    "ml/housing-prices/regression": HOUSING_REGRESSION,
    "ml/hyperparameter/model": HYPERPARAMETER_MODEL,
    "ml/hyperparameter/select": HYPERPARAMETER_SELECT,
    "ml/hyperparameter/split": HYPERPARAMETER_SPLIT,
    "ml/hyperparameter/test": HYPERPARAMETER_TEST,
    "ml/iris/julia_infer": IRIS_JULIA_INFER,
    "ml/iris/julia_train": IRIS_JULIA_TRAIN,
    "ml/iris/python_infer": IRIS_PYTHON_INFER,
    "ml/iris/python_train": IRIS_PYTHON_TRAIN,
    "ml/iris/rstats_infer": IRIS_RSTATS_INFER,
    "ml/iris/rstats_train": IRIS_RSTATS_TRAIN,
    "ml/neon/infer": NEON_INFER,
    "ml/neon/train": NEON_TRAIN,
    "spark/estimate_pi": SPARK_ESTIMATE_PI,
    "spouts/spout101/processor": SPOUT101_PROCESSOR,
    "transactions/model": TRANSACTIONS_MODEL,
}
MULTI_DOCUMENT = {
    "ml/tensorflow/pre-processing_and_generation": TENSORFLOW_PREPROCESSING_AND_GENERATION,
    "ml/tensorflow/training_and_export": TENSORFLOW_TRAINING_AND_EXPORT,
}


@pytest.mark.parametrize("spec", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_example_is_accepted_unchanged(spec):
    given = json.loads(json.dumps(spec))
    parsed = parse_spec(given, every_repo)
    assert parsed.name == spec["pipeline"]["name"]
    assert given == spec, "parsing must not change the spec"
    assert parsed.raw == spec
    assert parsed.transform.cmd == tuple(spec["transform"]["cmd"])
    assert parsed.transform.image == spec["transform"].get("image")


@pytest.mark.parametrize("specs", MULTI_DOCUMENT.values(), ids=MULTI_DOCUMENT.keys())
def test_example_file_of_several_documents_is_accepted(specs):
    # The files separate their JSON documents with YAML's '---', as Pachyderm reads them.
    text = "\n---\n".join(json.dumps(s, indent=2) for s in specs)
    parsed = parse_specs(text, every_repo)
    assert [p.name for p in parsed] == [s["pipeline"]["name"] for s in specs]


def test_examples_read_their_fields_as_pachyderm_does():
    inner = parse_spec(INNER_JOIN, every_repo).input
    assert isinstance(inner, JoinInput)
    assert [(p.repo, p.glob, p.join_on, p.outer_join) for p in inner.inputs] == [
        ("stores", "/STOREID(*).txt", "$1", False),
        ("purchases", "/*_STOREID(*).txt", "$1", False),
    ]
    outer = parse_spec(OUTER_JOIN, every_repo).input
    assert [p.outer_join for p in outer.inputs] == [True, True]
    group = parse_spec(RETAIL_GROUP, every_repo).input
    assert isinstance(group, GroupInput)
    assert [(p.name, p.group_by) for p in group.inputs] == [
        ("stores", "$1"),
        ("purchases", "$1"),
        ("returns", "$1"),
    ]
    shuffle = parse_spec(SHUFFLE, every_repo).input
    assert isinstance(shuffle, UnionInput) and all(p.empty_files for p in shuffle.inputs)
    gatk = parse_spec(GATK_JOINT_CALL, every_repo)
    assert gatk.parallelism == 1 and gatk.datum_tries == 3
    model = parse_spec(TRANSACTIONS_MODEL, every_repo)
    assert [p.name for p in model.input.inputs] == ["raw_data", "c-parameters", "gamma-parameters"]
    assert parse_spec(NEON_INFER, every_repo).parallelism == 2
    assert parse_spec(WORD_COUNT_MAP, every_repo).input == PfsInput(
        name="scraper", repo="scraper", glob="/*/*"
    )


# (example, spec or specs, the field the message names)
REFUSED = [
    ("churn", CHURN, "field 'egress' is not supported"),
    ("db/query", DB_QUERY, "field 'transform.secrets' is not supported"),
    ("branch-mover-no-auth", BRANCH_MOVER_NO_AUTH, "field 'input.cron' is not supported"),
    ("branch-mover", BRANCH_MOVER, "field 'input.cron' is not supported"),
    ("edges_dp", EDGES_DP, "field 'output_branch' is not supported with value \"dev\""),
    (
        "opencv/edges-union",
        OPENCV_EDGES_UNION,
        "'input.union[1].pfs.project' names project 'staging'",
    ),
    ("gpt-2/generate", GPT2_GENERATE, "field 'resource_limits.gpu' is not supported"),
    ("gpt-2/train", GPT2_TRAIN, "field 'resource_limits.gpu' is not supported"),
    (
        "tensorflow/training_and_export_gpu",
        TENSORFLOW_TRAINING_AND_EXPORT_GPU,
        "field 'resource_limits.gpu' is not supported",
    ),
    ("redshift", REDSHIFT, "field 'transform.secrets' is not supported"),
    ("scraper", SCRAPER, "field 'transform.accept_return_code' is not supported"),
    (
        "word_count/scraper",
        WORD_COUNT_SCRAPER,
        "field 'transform.accept_return_code' is not supported",
    ),
    ("go-rabbitmq-spout", RABBITMQ_SPOUT, "field 'spout' is not supported"),
    ("spout101/spout", SPOUT101_SPOUT, "field 'spout' is not supported"),
    ("kubeflow/mnist", KUBEFLOW_MNIST, "field 's3_out' is not supported with value true"),
    (
        "kubeflow/mnist standalone",
        KUBEFLOW_MNIST_STANDALONE,
        "field 's3_out' is not supported with value true",
    ),
]


@pytest.mark.parametrize(("name", "spec", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_example_with_unsupported_features_is_refused_naming_the_field(name, spec, message):
    specs = spec if isinstance(spec, list) else [spec]
    with pytest.raises(InvalidSpec) as raised:
        parse_specs(json.dumps(specs), every_repo)
    assert message in raised.value.message


def test_edges_union_without_its_project_is_a_union_alias():
    # The example's second input reads project 'staging'; pachstream has only 'default'.
    # Without it, both alternatives are named 'images' (Pachyderm's union alias).
    spec = json.loads(json.dumps(OPENCV_EDGES_UNION))
    del spec["input"]["union"][1]["pfs"]["project"]
    union = parse_spec(spec, every_repo).input
    assert isinstance(union, UnionInput) and [p.name for p in union.inputs] == ["images", "images"]
